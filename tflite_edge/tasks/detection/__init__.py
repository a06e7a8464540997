"""Object detection: build, fit, convert (with the TFLite postprocess op and a raw variant),
evaluate (COCO mAP for Keras and every artifact) and report, behind the Task interface
(`task.DetectionTask`); its recipe rules in `rules` (TensorFlow-free)."""
