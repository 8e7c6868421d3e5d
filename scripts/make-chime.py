#!/usr/bin/env python3
"""Writes web/display/chime.wav, the browser display's chime: two falling bell tones (880 Hz,
then 660 Hz, as the terminal display's chime) with a soft attack and an exponential decay,
mono 16-bit PCM at 22,050 Hz. Run it again to change the sound:
    python3 scripts/make-chime.py [OUTPUT]"""
import math
import os
import struct
import sys
import wave

RATE = 22050
TONES = ((880.0, 0.0), (660.0, 0.55))  # (frequency in Hz, start in seconds)
LENGTH = 1.6  # seconds
DECAY = 2.6   # per second: a bell, not a beep
PEAK = 0.55   # of full scale, so two overlapping tones never clip


def sample(t):
    """The chime's value at t seconds, in -1..1."""
    value = 0.0
    for freq, start in TONES:
        dt = t - start
        if dt < 0:
            continue
        attack = min(1.0, dt / 0.008)  # 8 ms: no click at the start
        envelope = attack * math.exp(-DECAY * dt)
        # The fundamental with a little of the octave and twelfth, as a struck bar sounds.
        value += envelope * (math.sin(2 * math.pi * freq * dt) + 0.25 * math.sin(4 * math.pi * freq * dt)
                             + 0.08 * math.sin(6 * math.pi * freq * dt))
    return value / 1.33


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', 'web', 'display', 'chime.wav')
    n = int(RATE * LENGTH)
    fade = int(RATE * 0.05)  # the last 50 ms go to silence
    frames = bytearray()
    for i in range(n):
        v = sample(i / RATE) * PEAK
        if i > n - fade:
            v *= (n - i) / fade
        frames += struct.pack('<h', int(max(-1.0, min(1.0, v)) * 32767))
    with wave.open(out, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(frames))


if __name__ == '__main__':
    main()
