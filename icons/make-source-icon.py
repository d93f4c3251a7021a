#!/usr/bin/env python3
"""Draws icons/source.png (1024x1024): a headset on a rounded teal square.

The platform icons in icons/ are generated from it with `npx tauri icon icons/source.png -o icons`.
Pure standard library so it runs anywhere the build does.
"""
import math, struct, sys, zlib

N = 1024
def inside_rounded_square(x, y, margin=64, radius=200):
    lo, hi = margin, N - margin
    cx = min(max(x, lo + radius), hi - radius)
    cy = min(max(y, lo + radius), hi - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2 and lo <= x <= hi and lo <= y <= hi

def pixel(x, y):
    if not inside_rounded_square(x, y):
        return (0, 0, 0, 0)
    t = y / N
    bg = (int(16 + 20 * t), int(120 - 30 * t), int(140 - 20 * t), 255)
    dx, dy = x - 512, y - 560
    r = math.hypot(dx, dy)
    # Headband: an upper arc.
    if dy < 0 and 250 <= r <= 300:
        return (255, 255, 255, 255)
    # Ear cups.
    for cx in (230, 794):
        if abs(x - cx) <= 62 and 520 <= y <= 740:
            return (255, 255, 255, 255)
    # Microphone boom and tip.
    if 700 <= y <= 720 and 560 <= x <= 794 or math.hypot(x - 545, y - 710) <= 34:
        return (255, 220, 120, 255)
    return bg

rows = []
for y in range(N):
    row = bytearray([0])
    for x in range(N):
        row.extend(pixel(x, y))
    rows.append(bytes(row))
raw = zlib.compress(b"".join(rows), 9)

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
out = sys.argv[1] if len(sys.argv) > 1 else "icons/source.png"
with open(out, "wb") as f:
    f.write(png)
