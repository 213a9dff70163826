"""thinc's PyTorchShim, holding a network it can rebuild from its own bytes, with
in-place parameter updates, optimizer averages, mixed precision only where CUDA
is, and optional int8 inference on CPU."""

import contextlib
import warnings
from dataclasses import asdict
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple, cast

import torch
from thinc.api import ArgsKwargs, Optimizer, get_torch_default_device, torch2xp, xp2torch
from thinc.shims import PyTorchShim
from thinc.types import FloatsXd

from ..network import FeatureSpec, LSTMTagger
from ..network.contract import MakesInt8Copy, NetworkBuilder, ReadsCheckpoint, ScalesLearningRates
from ..network.int8 import int8_copy, quantizable_layers
from .builder_config import as_json, builder_config, free_settings
from .checkpoint import Checkpoint
from .storage.saved_network import SavedNetwork, SavedNetworkError
from .storage.weights import load_weights, network_weights


class TaggerShim(PyTorchShim):
    """The holder of the torch network inside the thinc model.

    Over thinc 8.3's PyTorchShim:

    - it builds the network itself (`build`), from the builder and features of the
      config, the label counts and, for a builder with a `checkpoint_dir`, the
      pretrained checkpoint's kept files;
    - its bytes hold all of these but the builder's code, and the weights as
      safetensors (storage/saved_network.py): `from_bytes` rebuilds the network and loads
      them, so thinc's `Model.from_bytes` / `from_disk` are enough to load it.
      Nothing is pickled;
    - `mixed_precision` (float16) is switched off, with a warning, where CUDA is not
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
        builder: NetworkBuilder,
        features: FeatureSpec,
        *,
        mixed_precision: bool = False,
        bfloat16: bool = False,
        int8_inference: bool = False,
    ) -> None:
        if mixed_precision and not torch.cuda.is_available():
            warnings.warn(
                'torch_tagger: precision = "float16" (mixed_precision = true in TorchTagger.v1) needs '
                "a CUDA GPU; none is available, so the network runs in float32.",
                stacklevel=2,
            )
            mixed_precision = False
        super().__init__(None, mixed_precision=mixed_precision)
        self.builder = builder
        self.features = features
        # What the current network was built with ({} and None before it is built).
        self.n_labels: Dict[str, int] = {}
        self.checkpoint: Optional[Checkpoint] = None
        self.int8_inference = int8_inference
        self.bfloat16 = bfloat16
        self._int8: Optional[Tuple[torch.nn.Module, torch.nn.Module]] = None  # (source, int8 copy)

    def reads_checkpoint(self) -> bool:
        """Whether the builder starts from a pretrained checkpoint (has a `checkpoint_dir`)."""
        # The check looks the attribute up statically: evaluating it would resolve the
        # checkpoint, which a loaded pipeline does not need (its package or folder may be absent).
        return isinstance(self.builder, ReadsCheckpoint)

    def build(self, n_labels: Mapping[str, int], checkpoint: Optional[Checkpoint]) -> None:
        """Build a fresh network at these label counts (on `checkpoint` when the
        builder reads one) and install it."""
        self._install(self._new_network(n_labels, checkpoint), n_labels, checkpoint)

    def _new_network(self, n_labels: Mapping[str, int], checkpoint: Optional[Checkpoint]) -> torch.nn.Module:
        if not n_labels or any(n < 1 for n in n_labels.values()):
            raise ValueError(
                "The torch_tagger network cannot be built before its label counts are known: "
                f"add labels or initialize the component with examples (got {dict(n_labels)})."
            )
        if self.reads_checkpoint():
            if checkpoint is None:
                raise ValueError(
                    "The torch_tagger network reads a checkpoint that was never loaded: initialize first."
                )
            network = self.builder(self.features, dict(n_labels), checkpoint=checkpoint)
        else:
            network = self.builder(self.features, dict(n_labels))
        if not isinstance(network, torch.nn.Module):
            raise TypeError(
                f"The torch_tagger network builder returned {type(network).__name__}, "
                "expected a torch.nn.Module."
            )
        return network.to(get_torch_default_device())

    def _built_as(self, n_labels: Mapping[str, int], checkpoint: Optional[Checkpoint]) -> bool:
        """Whether the current network was built for these label counts and checkpoint files."""
        kept = self.checkpoint.files if self.checkpoint is not None else None
        given = checkpoint.files if checkpoint is not None else None
        return self._model is not None and self.n_labels == dict(n_labels) and kept == given

    def _install(
        self,
        network: Optional[torch.nn.Module],
        n_labels: Mapping[str, int],
        checkpoint: Optional[Checkpoint],
    ) -> None:
        self.n_labels = dict(n_labels)
        self.checkpoint = checkpoint
        self.network = network

    @property
    def network(self) -> Optional[torch.nn.Module]:
        """The torch network (None until the model is initialized or loaded)."""
        return self._model

    @network.setter
    def network(self, network: Optional[torch.nn.Module]) -> None:
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
                    if isinstance(self._model, (MakesInt8Copy, LSTMTagger))
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
        network = self._model
        lr_scale = network.lr_scale if isinstance(network, ScalesLearningRates) else None
        for name, param in network.named_parameters():
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

    def to_bytes(self) -> bytes:
        """The builder's recorded settings, the features, label counts, checkpoint
        files and weights (storage/saved_network.py)."""
        return SavedNetwork(
            builder=builder_config(self.builder),
            features=as_json(asdict(self.features)),
            n_labels=dict(self.n_labels),
            checkpoint=self.checkpoint.to_bytes() if self.checkpoint is not None else None,
            weights=network_weights(self._model) if self._model is not None else None,
        ).to_bytes()

    def from_bytes(self, bytes_data: bytes) -> "TaggerShim":
        """Load bytes written by `to_bytes`: the weights go into the current network in
        place when it was built for the same label counts and checkpoint, else into a
        network rebuilt from the bytes. Raises ModelFileError (naming the part) for bytes
        that are damaged, not ours, or saved with another config; nothing is loaded then."""
        saved = SavedNetwork.from_bytes(bytes_data)
        saved.check_config(
            builder_config(self.builder), as_json(asdict(self.features)), free_settings(self.builder)
        )
        if saved.weights is None:
            self._install(None, {}, None)
        else:
            if self.reads_checkpoint() != (saved.checkpoint is not None):
                kept = "keeps" if saved.checkpoint is not None else "has no"
                reads = "reads" if self.reads_checkpoint() else "reads no"
                raise SavedNetworkError(
                    f"the saved network {kept} pretrained checkpoint files but the config's network "
                    f"{reads} checkpoint: the config must be the config.cfg saved with the pipeline"
                )
            checkpoint = Checkpoint.from_bytes(saved.checkpoint) if saved.checkpoint is not None else None
            # Like thinc's own shim, load into the network in place when it was built the same way.
            network = self._model if self._built_as(saved.n_labels, checkpoint) else None
            if network is None:
                network = self._new_network(saved.n_labels, checkpoint)
            load_weights(network, saved.weights)
            self._install(network, saved.n_labels, checkpoint)
        self._grad_scaler.to_(get_torch_default_device())
        return self

    def to_device(self, device_type: str, device_id: int) -> None:
        super().to_device(device_type, device_id)
        self.weights_changed()
