"""Generalization tools (issue #19): where poses lie relative to a dataset, how far a dataset covers another, and how
accuracy drops under image corruptions.

Modules (import them directly; this package re-exports nothing):

- ``posespace``: poses of any skeleton -> a common joint set, root-subtracted, scale-normalised, optionally
  left-right canonicalised (2D and 3D; missing joints kept as NaN with a mask).
- ``coverage``: k-NN coverage of one pose set by another, domain-classifier separability, per-joint variance, and an
  out-of-distribution score per pose against a reference set.
- ``corruptions``: the ImageNet-C family of image corruptions and occluder patches, severities 1-5, deterministic per
  seed.
"""
