"""Latency-aware architecture search (stage `search`): `stage` runs it, `space` is what it builds,
`trial` trains, converts, times and scores one candidate, `scoring` holds the reward and the
Pareto front, `distributed` the keras-tuner chief and workers (`python -m tflite_edge.search worker`).

Importing the package itself starts nothing: `scoring` is TensorFlow-free, the rest imports keras-tuner.
"""
