"""Models: backbones with FPN, the shared two-stage proposal head, and the full network.

``build_model`` / ``ProposalNetwork`` are imported lazily so that light submodules (post-processing,
box coders) import without pulling in torchvision's model zoo.
"""
__all__ = ["ProposalNetwork", "build_model"]


def __getattr__(name: str):
    if name in __all__:
        from . import proposal_network
        return getattr(proposal_network, name)
    raise AttributeError(name)
