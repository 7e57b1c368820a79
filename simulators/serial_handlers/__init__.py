"""pyserial URL handlers of the simulators (`sim://`); see simulators/simport.py."""
