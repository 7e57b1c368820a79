"""Voice calling: pinyin rules, SYN6288 vectors and chip over a pty, espeak-ng WAVs and the playback queue."""

from __future__ import annotations

import itertools
import shutil
import wave
from pathlib import Path
from typing import Any

import pytest

from drivers.codecs import announce, syn6288
from drivers.devices.base import DeviceSpec
from drivers.devices.speaker import EspeakSpeaker, release_queue, wav_duration
from drivers.errors import BadArguments, CodecError, TransportTimeout
from drivers.registry import load_profile, open_device
from simulators.devices.syn6288 import Syn6288Simulator

V_SYN_1 = bytes.fromhex("FD 00 1C 01 01 5B 76 38 5D C7 EB 41 30 30 31 BA C5 B5 BD 35 BA C5 B4 B0 BF DA B0 EC C0 ED D8")
V_SYN_2 = bytes.fromhex("FD 00 02 02 FD")
V_SYN_3 = bytes.fromhex("FD 00 02 21 DE")


@pytest.mark.parametrize(("n", "pinyin"), [
    (1, "yi1"), (5, "wu3"), (10, "shi2"), (12, "shi2 er4"), (20, "er4 shi2"), (35, "san1 shi2 wu3"),
    (100, "yi1 bai3"), (105, "yi1 bai3 ling2 wu3"), (110, "yi1 bai3 yi1 shi2"), (999, "jiu3 bai3 jiu3 shi2 jiu3"),
])  # fmt: skip
def test_window_numbers_are_read_as_numbers(n: int, pinyin: str) -> None:
    assert announce.number_pinyin(n) == pinyin


def test_number_range_and_ticket_digits() -> None:
    for bad in (0, 1000):
        with pytest.raises(BadArguments):
            announce.number_pinyin(bad)
    assert announce.spelled_pinyin("b012") == "B ling2 yi1 er4"
    assert announce.spelled_pinyin("B012", yao=True) == "B ling2 yao1 er4"


def test_call_and_recall_templates() -> None:
    call = announce.call_announcement("A001", "5")
    assert call.text == "请A001号到5号窗口办理"
    assert call.pinyin == "qing3 A ling2 ling2 yi1 hao4 dao4 wu3 hao4 chuang1 kou3 ban4 li3"
    recall = announce.call_announcement("C120", "12", recall=True, yao=True)
    assert recall.text == "重呼请C120号到12号窗口办理"
    assert recall.pinyin.startswith("chong2 hu1 qing3 C yao1 er4 ling2 hao4 dao4 shi2 er4 hao4")


def test_pypinyin_draft_needs_review() -> None:
    """The draft misreads the polyphone 重呼 (zhong4): why templates carry reviewed pinyin."""
    assert announce.draft_pinyin("窗口") == "chuang1 kou3"
    assert announce.draft_pinyin("重呼") != announce.RECALL_PREFIX.pinyin


def test_syn6288_vectors_both_ways() -> None:
    assert syn6288.speak("[v8]请A001号到5号窗口办理", "gbk", 0) == V_SYN_1
    assert syn6288.stop() == V_SYN_2
    assert syn6288.status_query() == V_SYN_3
    frame = syn6288.decode_frame(V_SYN_1)
    assert (frame.cmd, frame.encoding, frame.music, frame.text) == (1, "gbk", 0, "[v8]请A001号到5号窗口办理")
    assert syn6288.decode_frame(V_SYN_3).cmd == syn6288.STATUS
    with pytest.raises(CodecError):
        syn6288.decode_frame(V_SYN_1[:-1] + b"\x00")


def test_syn6288_stream_decoder_reassembles_and_rejects() -> None:
    decoder = syn6288.Syn6288StreamDecoder()
    out = [item for byte in b"\x00" + V_SYN_3 + V_SYN_2[:-1] + b"\x00" for item in decoder.feed(bytes([byte]))]
    assert isinstance(out[0], syn6288.Syn6288Frame) and isinstance(out[1], CodecError)


def test_syn6288_chip_over_pty_never_cuts_off(rig: Any) -> None:
    device, sim, link = rig("voice", "syn6288", "syn6288", lambda p: Syn6288Simulator(p, seconds_per_char=0.02))
    assert device.probe() == {"online": True, "speaking": False}
    device.execute("announce", {"ticket_no": "A001", "window_no": "5"})
    device.execute("announce", {"ticket_no": "A002", "window_no": "6", "recall": True})
    assert [s.text for s in sim.spoken] == ["[v8]请A001号到5号窗口办理", "[v8]重呼请A002号到6号窗口办理"]
    assert sim.interrupted == []
    assert sim.spoken[1].start >= sim.spoken[0].end
    link.unplug()
    with pytest.raises(TransportTimeout):
        device.probe()
    link.replug()
    assert device.probe()["online"] is True


# ---- espeak-ng ----------------------------------------------------------------------------------

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="Debian package espeak-ng missing")


def speaker(tmp_path: Path, output: str, **options: Any) -> EspeakSpeaker:
    profile = {**load_profile("espeak-cmn-pinyin"), "sink": "file", "output": output, "wav_dir": str(tmp_path),
               **options}  # fmt: skip
    spec = DeviceSpec("speaker-1", "voice", "espeak-ng", "audio://default", "espeak-cmn-pinyin")
    device = open_device(spec, profile=profile, connect=True)
    assert isinstance(device, EspeakSpeaker)
    return device


@needs_espeak
def test_espeak_wav_format_and_duration(tmp_path: Path) -> None:
    device = speaker(tmp_path, "wav-check")
    try:
        path = device.synthesize(announce.call_announcement("A001", "5").pinyin)
        with wave.open(str(path), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (22050, 1, 2)
        assert 3.0 <= wav_duration(path) <= 4.5
    finally:
        release_queue("wav-check")


@needs_espeak
def test_announcements_queued_back_to_back_never_overlap(tmp_path: Path) -> None:
    """GIVEN a file sink playing at 1/10 speed WHEN three calls arrive at once THEN each starts after the last."""
    device = speaker(tmp_path, "overlap-check", time_scale=0.1, gap_s=0.05, repeat=2, chime=True)
    queue = device.queue
    assert queue is not None
    try:
        results = [device.execute("announce", {"ticket_no": f"A00{i}", "window_no": str(i), "recall": False})
                   for i in (1, 2, 3)]  # fmt: skip
        assert device.probe()["queue_length"] >= 1
        assert queue.wait_idle(20)
        played = queue.played
        assert len(played) == 9  # chime + two repeats, per call
        assert [p.text for p in played[::3]] == [r["text"] for r in results]
        for before, after in itertools.pairwise(played):
            assert after.start >= before.end
            assert after.end - after.start >= after.duration_s * 0.1 * 0.9
        for unit_end, next_start in zip(played[2::3], played[3::3], strict=False):
            assert next_start.start - unit_end.end >= 0.05 * 0.9
        assert device.probe()["queue_length"] == 0
    finally:
        release_queue("overlap-check")
