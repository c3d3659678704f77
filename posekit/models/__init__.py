"""Models: registry, pretrained weights, backbones, heads, the TFLite converter and the model table.

Nothing is imported here on purpose: importing ``posekit.models`` stays cheap, and each submodule imports
torch (or the flatbuffer parser) only when it is used.
"""
