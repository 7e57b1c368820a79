# One image for the hall server, the edge agent and the simulators (`hallctl <command>`).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md hallctl.py ./
COPY hallbus ./hallbus
COPY drivers ./drivers
COPY edge ./edge
COPY hall_server ./hall_server
COPY simulators ./simulators
COPY deploy ./deploy
RUN pip install --no-cache-dir .
ENTRYPOINT ["hallctl"]
