"""thinc's PyTorchShim, with in-place parameter updates, optimizer averages
and optional int8 inference on CPU."""

import contextlib
from typing import Any, Dict, Iterator, Optional, Tuple, cast

import torch
from thinc.api import ArgsKwargs, Optimizer, torch2xp, xp2torch
from thinc.shims import PyTorchShim
from thinc.types import FloatsXd

from .network.int8 import int8_copy


class TaggerShim(PyTorchShim):
    """Two fixes over thinc 8.3's PyTorchShim, both for training:

    - `finish_update` lets the optimizer update each parameter in place.
      thinc's version rebinds `param.data` to a tensor made from the
      optimizer's numpy view on every step; the chain of views keeps torch
      memory alive, about one copy of every updated table per step.
    - `use_params` also takes the optimizer's averages, keyed by
      (shim id, parameter name); thinc's looks for string keys only, so
      `use_averages` silently did nothing for torch networks.

    With `int8_inference`, `predict` on CPU runs an int8 copy of the network
    (see network/int8.py), rebuilt whenever the weights may have changed:
    after an update, inside and after `use_params`, after loading, after a
    device move, or when the network object is replaced.
    """

    def __init__(self, *args: Any, int8_inference: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.int8_inference = int8_inference
        self._int8: Optional[Tuple[torch.nn.Module, torch.nn.Module]] = None  # (source, int8 copy)

    def predict(self, inputs: ArgsKwargs) -> Any:
        if not self.int8_inference or self.device.type != "cpu":
            return super().predict(inputs)
        with torch.no_grad():
            return self.int8_network()(*inputs.args, **inputs.kwargs)

    def int8_network(self) -> torch.nn.Module:
        """The int8 copy of the current weights (built on first use)."""
        if self._int8 is None or self._int8[0] is not self._model:
            self._int8 = (self._model, int8_copy(self._model))
        return self._int8[1]

    def weights_changed(self) -> None:
        """Drop the int8 copy; the next CPU predict builds it from the current weights."""
        self._int8 = None

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
        self.weights_changed()

    @contextlib.contextmanager
    def use_params(self, params: Dict) -> Iterator[None]:
        averaged = {
            name: params[(self.id, name)]
            for name, _ in self._model.named_parameters()
            if (self.id, name) in params
        }
        if not averaged:
            with super().use_params(params):
                self.weights_changed()
                yield
            self.weights_changed()
            return
        backup = {name: tensor.clone() for name, tensor in self._model.state_dict().items()}
        state = dict(backup)
        for name, value in averaged.items():
            state[name] = xp2torch(value, device=self.device)
        self._model.load_state_dict(state)
        self.weights_changed()
        try:
            yield
        finally:
            self._model.load_state_dict(backup)
            self.weights_changed()

    def from_bytes(self, bytes_data: bytes) -> "TaggerShim":
        super().from_bytes(bytes_data)
        self.weights_changed()
        return self

    def to_device(self, device_type: str, device_id: int) -> None:
        super().to_device(device_type, device_id)
        self.weights_changed()
