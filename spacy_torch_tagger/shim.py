"""thinc's PyTorchShim, with in-place parameter updates and optimizer averages."""

import contextlib
from typing import Dict, Iterator, cast

from thinc.api import Optimizer, torch2xp, xp2torch
from thinc.shims import PyTorchShim
from thinc.types import FloatsXd


class TaggerShim(PyTorchShim):
    """Two fixes over thinc 8.3's PyTorchShim, both for training:

    - `finish_update` lets the optimizer update each parameter in place.
      thinc's version rebinds `param.data` to a tensor made from the
      optimizer's numpy view on every step; the chain of views keeps torch
      memory alive, about one copy of every updated table per step.
    - `use_params` also takes the optimizer's averages, keyed by
      (shim id, parameter name); thinc's looks for string keys only, so
      `use_averages` silently did nothing for torch networks.
    """

    def finish_update(self, optimizer: Optimizer) -> None:
        for name, param in self._model.named_parameters():
            if param.grad is None:
                continue
            if not self._grad_scaler.found_inf:
                weights = cast(FloatsXd, torch2xp(param.data))
                gradient = cast(FloatsXd, torch2xp(param.grad))
                updated, _ = optimizer((self.id, name), weights, gradient)
                updated_tensor = xp2torch(updated, device=param.device)
                if updated_tensor.data_ptr() != param.data.data_ptr():
                    param.data.copy_(updated_tensor.view_as(param.data))
            param.grad.zero_()
        self._grad_scaler.update()

    @contextlib.contextmanager
    def use_params(self, params: Dict) -> Iterator[None]:
        averaged = {
            name: params[(self.id, name)]
            for name, _ in self._model.named_parameters()
            if (self.id, name) in params
        }
        if not averaged:
            with super().use_params(params):
                yield
            return
        backup = {name: tensor.clone() for name, tensor in self._model.state_dict().items()}
        state = dict(backup)
        for name, value in averaged.items():
            state[name] = xp2torch(value, device=self.device)
        self._model.load_state_dict(state)
        try:
            yield
        finally:
            self._model.load_state_dict(backup)
