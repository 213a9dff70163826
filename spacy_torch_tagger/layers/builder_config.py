"""The registry name and settings a network builder was made with.

The network architectures record them on the builder they return; the saved
network keeps them (storage/saved_network.py), so loading can name each setting in which
the config differs from the one the weights were trained with. A builder from
an architecture registered without `network_architecture` records nothing and
is not checked.
"""

import functools
import inspect
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, TypeVar, cast

import srsly
from spacy.util import registry

CONFIG_ATTR = "network_config"
FREE_ATTR = "network_settings_free"
Build = TypeVar("Build", bound=Callable[..., Any])


def network_architecture(name: str, free: Sequence[str] = ()) -> Callable[[Build], Build]:
    """Register a network architecture under `name`; each builder it returns
    carries {"@architectures": name, **its settings} as `network_config`, and the
    names of the settings that shape no weight (`free`: how it trains or reads its
    input), which a config may change for a trained network."""

    def register(build: Build) -> Build:
        signature = inspect.signature(build)

        @functools.wraps(build)
        def build_and_record(*args: Any, **kwargs: Any) -> Any:
            builder = build(*args, **kwargs)
            settings = signature.bind(*args, **kwargs)
            settings.apply_defaults()
            setattr(builder, CONFIG_ATTR, as_json({"@architectures": name, **settings.arguments}))
            setattr(builder, FREE_ATTR, tuple(free))
            return builder

        registry.architectures(name)(build_and_record)
        return cast(Build, build_and_record)

    return register


def free_settings(builder: Any) -> Tuple[str, ...]:
    """The settings of a builder that a config may change for a trained network."""
    return tuple(getattr(builder, FREE_ATTR, ()))


def builder_config(builder: Any) -> Optional[Dict[str, Any]]:
    """What `network_architecture` recorded on a builder; None when nothing was."""
    config = getattr(builder, CONFIG_ATTR, None)
    return dict(config) if isinstance(config, dict) else None


def as_json(value: Any) -> Any:
    """The value as it reads back from JSON (tuples become lists), for comparisons."""
    return srsly.json_loads(srsly.json_dumps(value))
