"""Image classification: a softmax head on a backbone, cross-entropy (distilled with teachers),
top-1 accuracy and agreement with Keras for every artifact, early exits (adaptive), behind the
Task interface (`task.ClassificationTask`); its recipe rules, predict and metadata layout in
`rules`, `predict`, `metadata` (TensorFlow-free)."""
