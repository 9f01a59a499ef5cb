"""Models: backbones with FPN, the proposal heads and the whole network (classes only; a config
becomes a model in :mod:`scrpn.build`).

``ProposalNetwork`` is imported lazily so that light submodules (post-processing, box coders)
import without pulling in torchvision's model zoo.
"""
__all__ = ["ProposalNetwork"]


def __getattr__(name: str):
    if name in __all__:
        from . import proposal_network
        return getattr(proposal_network, name)
    raise AttributeError(name)
