#!/usr/bin/env python3
"""Generates the small committed samples in data/ (standard library only, fixed seed).

- data/sensors.csv: one long multivariate time series (a CSV without --id) whose `demand`
  column depends on the temperature hours earlier, to forecast with --target demand --horizon 1.
- data/sequences.jsonl: labelled sequences of 5 to 40 steps; the label is the sign of a marker
  seen only in the first three steps, so a model must carry it to the end.
- data/text.txt: English-like text from a small grammar with long-range structure (numbered
  days, names and the pronouns that refer back to them, quotes that close). Ours to commit.

Run from the repository root: python3 scripts/make_samples.py
"""
import datetime
import json
import math
import random
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def sensors(rng, path, steps=4000):
    # Hourly readings (the timestamp is not numeric, so it is not a default feature): a daily temperature cycle with weather fronts, humidity following it,
    # pressure drifting, and a demand that answers the temperature of 6 hours before.
    temperature_history = [15.0] * 6
    front, pressure, demand = 0.0, 1013.0, 50.0
    with path.open("w") as out:
        out.write("time,temperature,humidity,pressure,demand\n")
        start = datetime.datetime(2024, 1, 1)
        for hour in range(steps):
            front = 0.97 * front + rng.gauss(0, 0.6)
            temperature = 15 + 7 * math.sin(2 * math.pi * (hour % 24 - 9) / 24) + front
            humidity = min(100.0, max(5.0, 70 - 1.5 * (temperature - 15) + rng.gauss(0, 3)))
            pressure += rng.gauss(0, 0.4) - 0.02 * (pressure - 1013)
            lagged = temperature_history[-6]
            demand = 0.6 * demand + 0.4 * (40 + 2.5 * abs(lagged - 18)) + rng.gauss(0, 1)
            temperature_history.append(temperature)
            time = (start + datetime.timedelta(hours=hour)).isoformat(timespec="minutes")
            out.write(f"{time},{temperature:.3f},{humidity:.2f},{pressure:.2f},{demand:.3f}\n")


def sequences(rng, path, count=1000):
    # x: [marker, signal, noise] per step. The marker is non-zero in one of the first three
    # steps only; the label is 1 when it was positive. The signal is a random walk unrelated
    # to the label, so only memory of the start predicts it.
    with path.open("w") as out:
        for _ in range(count):
            length = rng.randint(5, 40)
            label = rng.randint(0, 1)
            marker_step = rng.randint(0, 2)
            walk = 0.0
            x = []
            for step in range(length):
                walk += rng.gauss(0, 0.3)
                marker = (1.0 if label else -1.0) if step == marker_step else 0.0
                x.append([marker, round(walk, 3), round(rng.gauss(0, 1), 3)])
            out.write(json.dumps({"x": x, "y": label}, separators=(",", ":")) + "\n")


NAMES = {"she": ["Mara", "Ilse", "Noor", "Greta", "Alba"], "he": ["Tomas", "Anselm", "Oren", "Pieter", "Kaspar"]}
PLACES = ["the mill", "the market", "the river", "the old bridge", "the bakery", "the hill", "the harbour"]
THINGS = ["bread", "rope", "apples", "a lantern", "letters", "salt", "wool", "a basket of eggs"]
WEATHER = ["rain", "wind", "fog", "sun", "snow"]
VERBS = ["carried", "sold", "found", "mended", "counted", "hid"]
FEELINGS = ["tired", "glad", "worried", "quiet", "curious"]


def text(rng, path, target_bytes=300_000):
    chunks, size, day = [], 0, 1
    while size < target_bytes:
        pronoun = rng.choice(["she", "he"])
        name = rng.choice(NAMES[pronoun])
        place, thing = rng.choice(PLACES), rng.choice(THINGS)
        sentences = [
            f"Day {day}. The {rng.choice(WEATHER)} came early, and {name} walked to {place}.",
            f"There {pronoun} {rng.choice(VERBS)} {thing} (as {pronoun} had on day {max(1, day - rng.randint(1, 9))}).",
        ]
        for _ in range(rng.randint(1, 4)):
            other_pronoun = rng.choice(["she", "he"])
            other = rng.choice(NAMES[other_pronoun])
            sentences.append(rng.choice([
                f"{other} asked, \"Why did {name} bring {thing} to {place}?\"",
                f"{name.capitalize()} told {other} that {pronoun} felt {rng.choice(FEELINGS)}.",
                f"When {other} arrived, {other_pronoun} {rng.choice(VERBS)} {rng.choice(THINGS)} too.",
                f"\"Not today,\" said {name}, and {pronoun} looked at {place}.",
            ]))
        sentences.append(f"By evening {name} was {rng.choice(FEELINGS)}, and day {day} was over.")
        paragraph = " ".join(sentences) + "\n\n"
        chunks.append(paragraph)
        size += len(paragraph.encode())
        day += 1
    path.write_text("".join(chunks))


def main():
    DATA.mkdir(exist_ok=True)
    sensors(random.Random(1), DATA / "sensors.csv")
    sequences(random.Random(2), DATA / "sequences.jsonl")
    text(random.Random(3), DATA / "text.txt")
    for name in ("sensors.csv", "sequences.jsonl", "text.txt"):
        print(f"data/{name}: {(DATA / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
