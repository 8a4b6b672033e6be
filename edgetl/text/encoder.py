"""A BERT encoder (MiniLM and kin) as a Keras 3 model, its weights read from a sentence-transformers folder.

The graph takes one int32 input, token ids padded with the pad id, and builds the attention mask from it,
so an exported model has a single input and the device needs only the tokenizer in the contract. Every
op is one TFLite and ONNX convert directly: dense layers, an explicit scaled-dot-product attention, layer
normalization, exact (erf) GELU, and masked mean pooling as sentence-transformers does it.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WeightsError

# added to attention scores of padding: e^-50 is 2e-22, nothing in fp32 (HF BERT adds the dtype's minimum), and the
# sum's range stays small enough for quantized activations (with -1e4 one int8 step of the scores was 39)
MASK_VALUE = -50.0
MAX_HEADER = 16 * 2**20
DROPOUT = 0.1  # hidden and attention dropout while fine-tuning, as BERT was pretrained


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    type_vocab: int = 2
    eps: float = 1e-12

    def __post_init__(self) -> None:
        for name, (lo, hi) in BOUNDS.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} {v!r} is outside {lo}..{hi}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden size {self.hidden} is not a multiple of the {self.heads} attention heads")
        if not (isinstance(self.eps, float) and 0.0 < self.eps <= 1e-2):
            raise ValueError(f"layer_norm_eps {self.eps!r} is outside (0, 0.01]")

    @classmethod
    def from_folder(cls, folder: Path) -> "BertConfig":
        from ..runtime.limits import MAX_CONFIG_BYTES, read_bounded

        p = folder / "config.json"
        try:
            d = json.loads(read_bounded(p, MAX_CONFIG_BYTES, error=WeightsError).decode("utf-8"))
            if not isinstance(d, dict):
                raise TypeError("config.json must hold a JSON object")
            if d.get("model_type", "bert") != "bert" or d.get("hidden_act", "gelu") != "gelu":
                raise ValueError(f"model_type {str(d.get('model_type'))[:40]!r} / hidden_act "
                                 f"{str(d.get('hidden_act'))[:40]!r}: edgetl builds BERT encoders with GELU")
            return cls(_int(d["vocab_size"]), _int(d["hidden_size"]), _int(d["num_hidden_layers"]),
                       _int(d["num_attention_heads"]), _int(d["intermediate_size"]),
                       _int(d["max_position_embeddings"]), _int(d.get("type_vocab_size", 2)),
                       float(d.get("layer_norm_eps", 1e-12)))
        except (OSError, ValueError, KeyError, TypeError, RecursionError, OverflowError) as exc:
            raise WeightsError(f"{p}: not a usable BERT config ({type(exc).__name__}: {str(exc)[:200]}). Point "
                               "--weights-dir at a sentence-transformers or Hugging Face BERT folder (config.json, "
                               "model.safetensors, vocab.txt).") from None

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor the encoder reads from a Hugging Face BERT checkpoint, with its shape."""
        h, f = self.hidden, self.intermediate
        out = {"embeddings.word_embeddings.weight": (self.vocab_size, h),
               "embeddings.position_embeddings.weight": (self.max_positions, h),
               "embeddings.token_type_embeddings.weight": (self.type_vocab, h),
               "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,)}
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            for name, n_in, n_out in _DENSE:
                n_in, n_out = (f if n_in == "f" else h), (f if n_out == "f" else h)
                out[p + name + ".weight"], out[p + name + ".bias"] = (n_out, n_in), (n_out,)
            for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
                out[p + norm + ".weight"], out[p + norm + ".bias"] = (h,), (h,)
        return out


# What a config may declare (the largest public BERTs: vocabulary 250k, hidden 1024-2048, 24-48 layers, 512
# positions): a config beyond these would build layers for minutes before a single weight is checked.
BOUNDS = {"vocab_size": (8, 1_000_000), "hidden": (8, 8192), "layers": (1, 96), "heads": (1, 128),
          "intermediate": (8, 65536), "max_positions": (8, 4096), "type_vocab": (1, 64)}
_DENSE = (("attention.self.query", "h", "h"), ("attention.self.key", "h", "h"), ("attention.self.value", "h", "h"),
          ("attention.output.dense", "h", "h"), ("intermediate.dense", "h", "f"), ("output.dense", "f", "h"))


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"expected an integer, got {str(v)[:40]!r}")
    return v


def check_weights(tensors: dict[str, np.ndarray], cfg: BertConfig, source: str) -> None:
    """Every tensor the config asks for is in the checkpoint with its shape: checked before any layer is built."""
    t = {k.removeprefix("bert."): v for k, v in tensors.items()}
    for name, shape in cfg.shapes().items():
        if name not in t:
            raise WeightsError(f"{source}: tensor {name!r} is missing; is this a BERT checkpoint matching its "
                               "config.json?")
        if tuple(t[name].shape) != shape:
            raise WeightsError(f"{source}: tensor {name!r} has shape {list(t[name].shape)}, but config.json asks for "
                               f"{list(shape)}. The config and the weights belong to different models.")


def read_safetensors(path: Path, *, expected_sha256: str | None = None) -> dict[str, np.ndarray]:
    """The float tensors of a ``.safetensors`` file, every offset checked against the file's size."""
    from ..runtime.limits import MAX_MODEL_BYTES, read_bounded

    data = read_bounded(path, MAX_MODEL_BYTES, error=WeightsError)
    if expected_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != expected_sha256:
            raise WeightsError(f"{path}: sha256 {got[:16]}... differs from the published {expected_sha256[:16]}...: "
                               "the file is damaged or not the published one. Download it again.")
    try:
        (n,) = struct.unpack("<Q", data[:8])
        if n > min(MAX_HEADER, len(data) - 8):
            raise ValueError(f"header of {n} bytes")
        header = json.loads(data[8:8 + n])
        if not isinstance(header, dict):
            raise TypeError(f"the header is a JSON {type(header).__name__}, not an object")
        body = memoryview(data)[8 + n:]
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype, a, b, shape = _tensor_info(name, info)
            if dtype is None:
                continue  # integer buffers (position ids) are not weights
            if not 0 <= a <= b <= len(body) or (b - a) != int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize:
                raise ValueError(f"tensor {name[:80]!r} lies outside the file or has the wrong size")
            out[name] = np.frombuffer(body[a:b], dtype=dtype).reshape(shape).astype(np.float32)
        return out
    except (struct.error, ValueError, KeyError, TypeError, RecursionError, OverflowError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({type(exc).__name__}: {str(exc)[:200]}). "
                           "Download the encoder folder again.") from None


def _tensor_info(name: str, info: Any) -> tuple[str | None, int, int, tuple[int, ...]]:
    """(numpy dtype or None for non-float tensors, start, end, shape) of one header entry, each value checked."""
    if not isinstance(info, dict) or not isinstance(info.get("dtype"), str):
        raise TypeError(f"tensor {name[:80]!r}: its entry must be an object with a dtype string")
    offsets, shape = info.get("data_offsets"), info.get("shape")
    if not isinstance(offsets, list) or len(offsets) != 2 or not isinstance(shape, list) or len(shape) > 8:
        raise TypeError(f"tensor {name[:80]!r}: data_offsets must be two integers and shape a list of at most 8")
    a, b = (_int(x) for x in offsets)
    dims = tuple(_int(x) for x in shape)
    if min(dims, default=0) < 0 or max(dims, default=0) > 1 << 40:
        raise ValueError(f"tensor {name[:80]!r}: shape {list(dims)}")
    return {"F32": "<f4", "F16": "<f2"}.get(info["dtype"]), a, b, dims


def layer_norm(norm: Any, x: Any) -> Any:
    """``norm`` (a built Keras LayerNormalization: its gamma, beta and epsilon) applied with mean, subtract,
    multiply and rsqrt. Keras' own call computes the variance with SquaredDifference, which TFLite's quantizer
    gives 16-bit activations and LiteRT cannot run at 16 bits ("SquaredDifference only supports FLOAT32 and
    INT32"); these ops it can, and in fp32 the result is the same."""
    import keras

    ops = keras.ops
    d = x - ops.mean(x, axis=-1, keepdims=True)
    var = ops.mean(d * d, axis=-1, keepdims=True)
    return d * ops.rsqrt(var + norm.epsilon) * norm.gamma + norm.beta


def pad_mask(ids: Any, pad_id: int) -> Any:
    """1.0 where a token is not padding. With pad id 0 (BERT's) it is a cast of the ids to bool: no arithmetic
    or comparison on the int32 ids, which TFLite's 16-bit-activation quantizer tries to quantize and refuses
    ("Empty min/max for tensor serving_default_tokens", issue 29)."""
    import keras

    if pad_id == 0:
        return keras.ops.cast(keras.ops.cast(ids, "bool"), "float32")
    return keras.ops.cast(keras.ops.not_equal(ids, pad_id), "float32")


def build_encoder(cfg: BertConfig, seq_len: int, *, pad_id: int = 0, name: str = "encoder") -> Any:
    """ids (B, seq_len) int32 -> (hidden states (B, L, H), mask (B, L) float) as a Keras model."""
    import keras

    if seq_len > cfg.max_positions:
        raise WeightsError(f"sequence length {seq_len} exceeds the encoder's {cfg.max_positions} positions.")
    Embeddings, TransformerLayer = layer_classes()
    ids = keras.Input((seq_len,), dtype="int32", name="tokens")
    x = Embeddings(cfg, seq_len, pad_id, name="embeddings")(ids)
    mask = pad_mask(ids, pad_id)
    for i in range(cfg.layers):
        x = TransformerLayer(cfg, name=f"layer_{i}")(x, mask)
    return keras.Model(ids, [x, mask], name=name)


def mean_pool(x: Any, mask: Any) -> Any:
    """The mean of the states of the tokens that are not padding: mean(x m) / mean(m) over the positions, which
    is sum(x m) / sum(m). Means, not sums: TFLite's 16-bit quantizer gives a sum the range of its input, so a
    sum of the 0/1 mask saturated at 1 (issue 29); a mean stays within its input's range."""
    import keras

    m = keras.ops.expand_dims(mask, -1)
    length = int(mask.shape[-1]) if mask.shape[-1] is not None else 1
    return keras.ops.mean(x * m, axis=1) / keras.ops.maximum(keras.ops.mean(m, axis=1), 1.0 / length)


def _layers() -> tuple[type, type]:  # long: two Keras layer classes, here so that importing the module needs no Keras
    import keras

    @keras.saving.register_keras_serializable(package="edgetl")
    class Embeddings(keras.layers.Layer):
        def __init__(self, cfg: BertConfig | dict, seq_len: int, pad_id: int = 0, **kw: Any) -> None:
            super().__init__(**kw)
            self.cfg = cfg if isinstance(cfg, BertConfig) else BertConfig(**cfg)
            self.seq_len, self.pad_id = seq_len, pad_id
            self.word = keras.layers.Embedding(self.cfg.vocab_size, self.cfg.hidden, name="word")
            self.norm = keras.layers.LayerNormalization(epsilon=self.cfg.eps, name="norm")

        def build(self, shape: Any) -> None:
            h = self.cfg.hidden
            self.word.build(shape)
            self.position = self.add_weight(shape=(self.cfg.max_positions, h), name="position", initializer="zeros")
            self.token_type = self.add_weight(shape=(self.cfg.type_vocab, h), name="token_type", initializer="zeros")
            self.norm.build((None, self.seq_len, h))

        def call(self, ids: Any) -> Any:
            import tensorflow as tf

            # a plain gather: Keras' Embedding wraps negative ids (Less, Add and Select on the int32 ids), which
            # TFLite's 16-bit-activation quantizer refuses like the mask's comparison; ids are never negative
            x = tf.gather(self.word.embeddings, ids) + self.position[: self.seq_len][None] \
                + self.token_type[0][None, None]
            return layer_norm(self.norm, x)

        def get_config(self) -> dict:
            return {**super().get_config(), "cfg": self.cfg.__dict__, "seq_len": self.seq_len, "pad_id": self.pad_id}

    @keras.saving.register_keras_serializable(package="edgetl")
    class TransformerLayer(keras.layers.Layer):
        def __init__(self, cfg: BertConfig | dict, **kw: Any) -> None:
            super().__init__(**kw)
            self.cfg = cfg if isinstance(cfg, BertConfig) else BertConfig(**cfg)
            h = self.cfg.hidden
            self.q, self.k, self.v, self.o = (keras.layers.Dense(h, name=n) for n in ("query", "key", "value", "out"))
            self.norm1 = keras.layers.LayerNormalization(epsilon=self.cfg.eps, name="attention_norm")
            self.ff1 = keras.layers.Dense(self.cfg.intermediate, name="intermediate")
            self.ff2 = keras.layers.Dense(h, name="output")
            self.norm2 = keras.layers.LayerNormalization(epsilon=self.cfg.eps, name="output_norm")
            # BERT's own regularization while fine-tuning (identity at inference, so exports are unaffected)
            self.drop_attention = keras.layers.Dropout(DROPOUT)
            self.drop_hidden = keras.layers.Dropout(DROPOUT)

        def build(self, x_shape: Any, mask_shape: Any = None) -> None:
            for d in (self.q, self.k, self.v, self.o, self.ff1):
                d.build(x_shape)
            self.ff2.build((*x_shape[:-1], self.cfg.intermediate))
            self.norm1.build(x_shape)
            self.norm2.build(x_shape)

        def call(self, x: Any, mask: Any, training: Any = None) -> Any:
            ops = keras.ops
            nh = self.cfg.heads
            hd = self.cfg.hidden // nh
            L = ops.shape(x)[1]

            def heads(t: Any) -> Any:
                return ops.transpose(ops.reshape(t, (-1, L, nh, hd)), (0, 2, 1, 3))

            q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
            scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * (1.0 / float(np.sqrt(hd)))
            scores = scores + (1.0 - mask[:, None, None, :]) * MASK_VALUE
            probs = self.drop_attention(ops.softmax(scores, axis=-1), training=training)
            ctx = ops.reshape(ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3)), (-1, L, self.cfg.hidden))
            x = layer_norm(self.norm1, x + self.drop_hidden(self.o(ctx), training=training))
            ff = self.ff2(keras.activations.gelu(self.ff1(x), approximate=False))
            return layer_norm(self.norm2, x + self.drop_hidden(ff, training=training))

        def get_config(self) -> dict:
            return {**super().get_config(), "cfg": self.cfg.__dict__}

    return Embeddings, TransformerLayer


_CLASSES: list[tuple[type, type]] = []


def layer_classes() -> tuple[type, type]:
    """The Keras layer classes (defined, and registered for loading .keras files, on first use)."""
    if not _CLASSES:
        _CLASSES.append(_layers())
    return _CLASSES[0]


def load_weights(encoder: Any, tensors: dict[str, np.ndarray], cfg: BertConfig, source: str) -> None:
    """Copy Hugging Face BERT tensors (``[bert.]embeddings...``, ``encoder.layer.N...``) into ``encoder``."""
    check_weights(tensors, cfg, source)
    t = {k.removeprefix("bert."): v for k, v in tensors.items()}

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        return t[name]

    h, f = cfg.hidden, cfg.intermediate
    emb = encoder.get_layer("embeddings")
    emb.word.embeddings.assign(get("embeddings.word_embeddings.weight", (cfg.vocab_size, h)))
    emb.position.assign(get("embeddings.position_embeddings.weight", (cfg.max_positions, h)))
    emb.token_type.assign(get("embeddings.token_type_embeddings.weight", (cfg.type_vocab, h)))
    emb.norm.set_weights([get("embeddings.LayerNorm.weight", (h,)), get("embeddings.LayerNorm.bias", (h,))])
    for i in range(cfg.layers):
        p, L = f"encoder.layer.{i}.", encoder.get_layer(f"layer_{i}")

        def dense(layer: Any, name: str, n_in: int, n_out: int) -> None:
            layer.set_weights([get(p + name + ".weight", (n_out, n_in)).T, get(p + name + ".bias", (n_out,))])

        dense(L.q, "attention.self.query", h, h)
        dense(L.k, "attention.self.key", h, h)
        dense(L.v, "attention.self.value", h, h)
        dense(L.o, "attention.output.dense", h, h)
        dense(L.ff1, "intermediate.dense", h, f)
        dense(L.ff2, "output.dense", f, h)
        L.norm1.set_weights([get(p + "attention.output.LayerNorm.weight", (h,)),
                             get(p + "attention.output.LayerNorm.bias", (h,))])
        L.norm2.set_weights([get(p + "output.LayerNorm.weight", (h,)), get(p + "output.LayerNorm.bias", (h,))])
