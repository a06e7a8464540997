"""Adaptive inference: early exits trained with the final head, exported as a TFLite cascade.

`exits` attaches the heads and cuts the model into segments; `cascade` decides which exit answers
(thresholds, exit rates, latency from per-segment timings; numpy only); `export` writes one TFLite
model per segment in every format with a cascade.json an app follows; `runner` runs that cascade.
"""
