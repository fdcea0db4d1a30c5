"""A small configurable MLP module for skorch nets (seed 001 App. B.2 sizes)."""

from __future__ import annotations

from torch import Tensor, nn


class MLP(nn.Module):
    """Fully connected ReLU network for tabular classification.

    Parameters
    ----------
    n_features : int
        Input width.
    n_classes : int, default=2
        Output width.
    hidden : tuple of int, default=(128, 64, 16)
        Hidden layer sizes (seed 001 App. B.2 uses 128-64-16 for German credit).
    softmax : bool, default=False
        End in a ``Softmax`` (for skorch's default ``NLLLoss`` criterion) instead
        of returning logits (for ``CrossEntropyLoss``).
    dropout : float, default=0.0
        Dropout after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from skcf.models import MLP
    >>> MLP(4, hidden=(8,))(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int = 2,
        hidden=(128, 64, 16),
        softmax: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_classes))
        if softmax:
            layers.append(nn.Softmax(dim=-1))
        self.net = nn.Sequential(*layers)

    def forward(self, X: Tensor) -> Tensor:
        return self.net(X)
