"""Table-driven CRC-16 variants used on the wire.

Both Onbon BX-5K (CRC-16/ARC) and HDP/1 (CRC-16/MODBUS) use the reflected polynomial 0xA001; they
differ only in the initial value, so one 256-entry table serves both (devices.md §3.6, §5.2).
"""

from __future__ import annotations


def _make_table(poly: int) -> tuple[int, ...]:
    """Precompute the reflected CRC of every byte value, so each input byte costs one lookup."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE_A001 = _make_table(0xA001)


def _crc16_reflected(data: bytes, init: int) -> int:
    crc = init
    for byte in data:
        crc = (crc >> 8) ^ _TABLE_A001[(crc ^ byte) & 0xFF]
    return crc


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC (init 0x0000): Onbon BX-5K frames; check value of b"123456789" is 0xBB3D."""
    return _crc16_reflected(data, 0x0000)


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (init 0xFFFF): HDP/1 frames; check value of b"123456789" is 0x4B37."""
    return _crc16_reflected(data, 0xFFFF)
