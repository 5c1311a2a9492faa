"""tensordl: the computations behind "Tensor Decompositions and Deep Learning".

A companion package to Stat 212b, lecture 24 (Joan Bruna). Each module owns one
mathematical object of the lecture and names the slides and the notebooks of the
book that use it:

- :mod:`tensordl.paths` -- networks as sums over paths (chapter 1);
- :mod:`tensordl.factorization` -- low rank, nuclear norm, variational principle (chapter 2);
- :mod:`tensordl.certificates` -- tensor norms, polars, the Haeffele--Vidal certificate (chapter 3);
- :mod:`tensordl.moments` -- score functions, Stein's identity, implicit moment tensors (chapter 4);
- :mod:`tensordl.decomposition` -- the tensor power method, whitening, Jennrich, CP (chapters 4, 5);
- :mod:`tensordl.hierarchical` -- Hierarchical Tucker tensors and matricization ranks (chapter 5);
- :mod:`tensordl.nnlift` -- NN-LIFT (chapter 4);
- :mod:`tensordl.convac` -- shallow (CP) and deep (HT) convolutional arithmetic circuits, torch modules
  (chapter 5; imported on its own, ``from tensordl import convac``, so that ``import tensordl`` does not
  load torch);
- :mod:`tensordl.spinglass` -- spherical spin glasses, descent, Newton, complexity (chapters 6 and 7);
- :mod:`tensordl.training` -- many small ReLU networks trained as one batched torch computation
  (chapter 7, network minima; imported on its own, like ``convac``);
- :mod:`tensordl.colorization` -- colourisation as classification over quantised ab bins, a small
  torch network trained three ways (chapter 9; imported on its own, like ``training``);
- :mod:`tensordl.polyroots` -- random polynomials, synthetic division, the LSTM root finders of the
  second presentation, R² and root conditioning (chapter 10; imported on its own, like ``convac``);
- :mod:`tensordl.data` -- bundled data sets and planted instances;
- :mod:`tensordl.parallel` -- independent tasks in worker processes, the same results for any number
  (chapters 4 and 6).
"""

from . import certificates, data, decomposition, factorization, hierarchical, moments, nnlift, paths, spinglass

__all__ = [
    "certificates",
    "data",
    "decomposition",
    "factorization",
    "hierarchical",
    "moments",
    "nnlift",
    "paths",
    "spinglass",
    "__version__",
]

__version__ = "0.1.0"
