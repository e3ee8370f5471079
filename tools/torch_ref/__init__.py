"""torch_ref: a PyTorch twin of sparsead's networks, losses and training steps.

It exists to check the C++ against an independent implementation (PyTorch's conv,
BN, autograd and Adam), and to be read next to METHOD.md by anyone auditing the method:
- nets.py    G, D, S with sparsead's parameter names (G.enc.0.0.conv.weight, ...)
- losses.py  SSIM, L_G, L_D, residual evidence, kl_sparsity, focal loss, image score
- steps.py   one phase-1 step and one phase-2 step, in the trainer's order
- state.py   weights in and out of sparsead's safetensors files, by name
- make_golden.py  writes the fixtures of tests/test_golden.cpp (see docs/GOLDEN.md)

Setup: tools/setup-python.sh (a venv with torch, safetensors, numpy, scikit-learn).
"""
