"""Generalization tools (issue #19): where poses lie relative to a dataset, how far a dataset covers another, which
poses a model will likely get wrong, and how accuracy drops under image corruptions.

Modules (import them directly; this package re-exports nothing), in data-flow order:

- ``posespace``: poses of any skeleton -> a common joint set, root-subtracted, scale-normalised, optionally
  left-right canonicalised (2D and 3D; missing joints kept as NaN with a mask).
- ``sourcespec``, ``sources``: pose sources (COCO-format, PoseTrack18, MPII, LSP/LSPET, posekit results, CMU mocap,
  H36M-style npz): how one is named and recognised, and how it is read into a normalised pose set.
- ``coverage``: k-NN coverage of one pose set by another, domain-classifier separability, per-joint variance, and an
  out-of-distribution score per pose against a reference set.
- ``embed``, ``mapplot``, ``tables``: UMAP / PCA embeddings, map figures (PNG, interactive HTML) and the coverage
  table; ``datamap`` runs them all (``posekit datamap``).
- ``ood``: OOD scores of posekit results (Poses / video JSONL) against a reference dataset, and error vs score
  (``posekit ood``).
- ``corruptions``: the ImageNet-C family of image corruptions and occluder patches, severities 1-5, deterministic per
  seed; ``robustness`` evaluates a model under each of them (``posekit robustness``).
- ``crosseval``: every offline model x every dataset with annotations and images, one Markdown table
  (``posekit crosseval``).
"""
