"""Diagnostic for the quality issue: would an image score taken against a per-position
reference map (the mean, z-score or maximum of normal images' smoothed maps) rank a trained
model's test images better? Runs the model's G and S through tools/torch_ref's PyTorch twins
(which reproduce sparsead's image AUROC to about 0.002), takes every STEP-th training image
as the normal images, and prints image AUROC (overall and per defect type) and pixel AUROC
at S x S for each variant. Config score_reference=mean is the built form of `minus_mean`.

    python3 tools/reference_diagnostic.py RUN/model.safetensors DATA_DIR [STEP]

Needs torch, numpy, pillow and safetensors (e.g. /work/venv-torch); whole-image models only.
"""
import glob
import json
import os
import sys
import numpy as np, torch
from PIL import Image
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_ref import nets, state
import onnx_postprocess as pp

model, data = sys.argv[1], sys.argv[2]
step = int(sys.argv[3]) if len(sys.argv) > 3 else 10
tensors, meta = state.read(model)
cfg = json.loads(meta['config'])
S, C, W = cfg['image_size'], cfg['channels'], cfg['width']
g = nets.Generator(channels=C, width=W); state.load_module(g, tensors, prefix='G.', strict=False)
s = nets.Segmenter(channels=C, width=W); state.load_module(s, tensors, prefix='S.', strict=False)
g.eval(); s.eval()
torch.set_num_threads(1)

def load(p):
    im = Image.open(p).convert('L' if C == 1 else 'RGB')
    w, h = im.size
    im = im.resize((S, S), Image.BOX if (w >= S and h >= S) else Image.BILINEAR)
    a = np.asarray(im, dtype=np.float32) / 255.0
    if C == 1: a = a[None]
    else: a = a.transpose(2, 0, 1)
    return a * 2 - 1

@torch.no_grad()
def logits(paths):
    out = []
    for i in range(0, len(paths), 32):
        x = torch.from_numpy(np.stack([load(p) for p in paths[i:i+32]]))
        out.append(s(x, g(x))[:, 0].numpy())
    return np.concatenate(out)

sigma = cfg['map_sigma']; inside = cfg['map_border'] == 'inside'
k = S // 16 + 1; k += 1 - k % 2
t = cfg['score_temperature']
def smooth(m): return pp.gaussian_blur(m, sigma, inside) if sigma > 0 else m.astype(np.float64)

train = sorted(glob.glob(os.path.join(data, 'train/good/*')))
ref_paths = train[::step]
tests = []
for d in sorted(glob.glob(os.path.join(data, 'test/*'))):
    for p in sorted(glob.glob(d + '/*')): tests.append((p, os.path.basename(d)))
R = np.stack([smooth(m) for m in logits(ref_paths)])
T = np.stack([smooth(m) for m in logits([p for p, _ in tests])])
labels = np.array([0 if ty == 'good' else 1 for _, ty in tests]); types = np.array([ty for _, ty in tests])
mu, sd, mx = R.mean(0), R.std(0) + 1e-3, R.max(0)

def auroc(sc, y):
    order = np.argsort(sc, kind='mergesort'); r = np.empty(len(sc)); r[order] = np.arange(1, len(sc) + 1)
    # ties: average ranks
    _, inv, cnt = np.unique(sc, return_inverse=True, return_counts=True)
    sums = np.zeros(len(cnt)); np.add.at(sums, inv, r); r = sums[inv] / cnt[inv]
    npos = y.sum(); nneg = len(y) - npos
    return (r[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg)

def score(m): return pp.window_score(pp.box_filter(m, k), cfg['image_score'] == 'lse', t)
variants = {'base': lambda m: m, 'minus_mean': lambda m: m - mu, 'zscore': lambda m: (m - mu) / sd,
            'minus_max': lambda m: m - mx}
print(f'model {model}: {len(ref_paths)} reference normals (every {step}th training image), {len(tests)} test images')
for name, f in variants.items():
    sc = np.array([score(f(m)) for m in T])
    per = {str(ty): round(float(auroc(np.concatenate([sc[types == 'good'], sc[types == ty]]),
                           np.concatenate([np.zeros((types == 'good').sum()), np.ones((types == ty).sum())]))), 3)
           for ty in sorted(set(types)) if ty != 'good'}
    print(f'{name:11s} image AUROC {auroc(sc, labels):.3f}  {per}')

# pixel AUROC at S x S (masks resized by nearest), over every test image's pixels
def mask_for(p, ty):
    if ty == 'good': return np.zeros((S, S), bool)
    stem = os.path.splitext(os.path.basename(p))[0]
    c = glob.glob(os.path.join(data, 'ground_truth', ty, stem + '*'))
    m = Image.open(c[0]).convert('L').resize((S, S), Image.NEAREST)
    return np.asarray(m) > 127
Mk = np.stack([mask_for(p, ty) for p, ty in tests]).ravel()
for name, f in variants.items():
    v = np.stack([f(m) for m in T]).ravel()
    print(f'{name:11s} pixel AUROC {auroc(v, Mk.astype(int)):.3f}')
