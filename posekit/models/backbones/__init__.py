"""Backbones: import from the module files (resnet, hrnet, vit, cspnext)."""
