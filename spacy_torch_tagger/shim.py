"""thinc's PyTorchShim, with in-place parameter updates, optimizer averages,
mixed precision only where CUDA is, and optional int8 inference on CPU."""

import contextlib
import warnings
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, cast

import srsly
import torch
from thinc.api import ArgsKwargs, Optimizer, get_torch_default_device, torch2xp, xp2torch
from thinc.shims import PyTorchShim
from thinc.types import FloatsXd

from .network.int8 import int8_copy, quantizable_layers
from .serialize import WeightsError, deserialize_network, serialize_network


class TaggerShim(PyTorchShim):
    """The holder of the torch network inside the thinc model.

    Over thinc 8.3's PyTorchShim:

    - weights are saved with `serialize_network` (no pickle, checksummed);
    - `mixed_precision` is switched off, with a warning, where CUDA is not
      available: autocast and gradient scaling only apply to CUDA;
    - `finish_update` lets the optimizer update each parameter in place, at the
      network's `lr_scale(name)` share of the learning rate when it has one.
      thinc's version rebinds `param.data` to a tensor made from the
      optimizer's numpy view on every step; the chain of views keeps torch
      memory alive, about one copy of every updated table per step;
    - `use_params` also takes the optimizer's averages, keyed by
      (shim id, parameter name); thinc's looks for string keys only, so
      `use_averages` silently did nothing for torch networks.

    With `bfloat16`, training and tagging run under torch's bfloat16 autocast on the
    network's device (CPU or CUDA), without gradient scaling.

    With `int8_inference`, `predict` on CPU runs an int8 copy of the network
    (see network/int8.py; a token's results do not depend on its batch), rebuilt
    whenever the weights may have changed:
    after an update, inside and after `use_params`, after loading, after a
    device move, or when the network object is replaced.
    """

    def __init__(
        self,
        network: Optional[torch.nn.Module],
        *,
        mixed_precision: bool = False,
        bfloat16: bool = False,
        int8_inference: bool = False,
    ) -> None:
        if mixed_precision and not torch.cuda.is_available():
            warnings.warn(
                "torch_tagger: mixed_precision = true needs a CUDA GPU; none is available, "
                "so the network runs in full precision.",
                stacklevel=2,
            )
            mixed_precision = False
        super().__init__(
            network,
            mixed_precision=mixed_precision,
            serialize_model=serialize_network,
            deserialize_model=deserialize_network,
        )
        self.int8_inference = int8_inference
        self.bfloat16 = bfloat16
        self._int8: Optional[Tuple[torch.nn.Module, torch.nn.Module]] = None  # (source, int8 copy)

    @property
    def network(self) -> Optional[torch.nn.Module]:
        """The torch network (None until the model is initialized or loaded)."""
        return self._model

    @network.setter
    def network(self, network: torch.nn.Module) -> None:
        self._model = network
        self.weights_changed()

    @property
    def mixed_precision(self) -> bool:
        """Whether autocast or gradient scaling is on (never without CUDA)."""
        return bool(self._mixed_precision or self._grad_scaler._enabled)

    def uses_int8(self) -> bool:
        """Whether `predict` runs the int8 copy (int8_inference on, network on the CPU)."""
        return self.int8_inference and self.device.type == "cpu"

    def predict(self, inputs: ArgsKwargs) -> Any:
        if self.bfloat16 and not self.uses_int8():
            self._model.eval()
            with torch.no_grad(), torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                outputs = self._model(*inputs.args, **inputs.kwargs)
            self._model.train()
            return outputs
        if not self.uses_int8():
            return super().predict(inputs)
        network = self.int8_network()
        with torch.no_grad():
            try:
                return network(*inputs.args, **inputs.kwargs)
            except (AttributeError, TypeError, RuntimeError) as error:
                layers = (
                    "its own int8 copy"
                    if hasattr(self._model, "int8_copy")
                    else (
                        f"the int8 layers {sorted(quantizable_layers(self._model))}; a layer whose forward "
                        "reads their .weight tensors directly cannot run them"
                    )
                )
                raise RuntimeError(
                    "torch_tagger int8_inference: the int8 copy of the network failed "
                    f"({type(error).__name__}: {error}). It runs {layers}. Set int8_inference = false."
                ) from error

    def begin_update(self, inputs: ArgsKwargs) -> Tuple[Any, Callable]:
        if not self.bfloat16:
            return super().begin_update(inputs)
        # bfloat16 keeps float32's range: autocast on the network's device, no gradient scaling.
        self._model.train()
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
            output = self._model(*inputs.args, **inputs.kwargs)

        def backprop(grads: ArgsKwargs) -> None:
            torch.autograd.backward(*grads.args, **grads.kwargs)

        return output, backprop

    def int8_network(self) -> torch.nn.Module:
        """The int8 copy of the current weights (built on first use)."""
        if self._int8 is None or self._int8[0] is not self._model:
            self._int8 = (self._model, int8_copy(self._model))
        return self._int8[1]

    def weights_changed(self) -> None:
        """Drop the int8 copy; the next CPU predict builds it from the current weights."""
        self._int8 = None

    def finish_update(self, optimizer: Optimizer) -> None:
        # A network may scale the learning rate per parameter (a lower one for a pretrained encoder).
        lr_scale = getattr(self._model, "lr_scale", None)
        for name, param in self._model.named_parameters():
            if param.grad is None:
                continue
            if not self._grad_scaler.found_inf:
                weights = cast(FloatsXd, torch2xp(param.data))
                gradient = cast(FloatsXd, torch2xp(param.grad))
                scale = lr_scale(name) if lr_scale is not None else 1.0
                updated, _ = optimizer((self.id, name), weights, gradient, lr_scale=scale)
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
        try:
            message: Any = srsly.msgpack_loads(bytes_data)
        except ValueError as error:
            raise WeightsError(f"The torch_tagger network data is damaged: {error}.") from error
        if not isinstance(message, dict) or not isinstance(message.get("state"), bytes):
            raise WeightsError("The torch_tagger network data is damaged: it holds no weights.")
        device = get_torch_default_device()
        self.cfg = message.get("config") or {}
        self._model = deserialize_network(self._model, message["state"], device)
        self._grad_scaler.to_(device)
        self.weights_changed()
        return self

    def to_device(self, device_type: str, device_id: int) -> None:
        super().to_device(device_type, device_id)
        self.weights_changed()
