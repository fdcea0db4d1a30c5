"""Root pytest configuration (applies to tests/ and to the doctests in skcf/)."""

import torch

# The engine's tensors are small; on a 2-core machine OpenMP's thread hand-off
# costs more than it saves, and contention with other processes multiplies the
# cost of every tiny op. One intra-op thread keeps the suite fast and stable.
torch.set_num_threads(1)
