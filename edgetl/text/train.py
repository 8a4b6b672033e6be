"""The train stage for text: tokenize -> cached encoder outputs -> head -> fine-tune the top layers -> model.keras.

Feature extraction trains the head on cached mean-pooled sentence embeddings; fine-tuning then trains the
top ``fine_tune_layers`` transformer layers together with the head, at a low rate, on the cached hidden
states of the layer below them (the frozen bottom of the encoder runs once per text, not once per epoch).
The saved model takes token ids (the tokenizer is in ``tokenizer.json`` beside it and in every contract).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from ..artifacts import Artifact, atomic_write_json, library_versions
from ..config import Strategy, TrainConfig
from ..data.cache import default_cache_dir, load_npy, save_npy
from ..data.scan import split
from ..errors import ConfigError
from ..pipeline import RunContext
from ..train_record import Split, TrainRecord
from ..runtime.tokenizer import MAX_SEQUENCE, WordPieceTokenizer
from ..train import loops
from ..train.metrics import classification_metrics
from ..train.report import data_facts, save_run_files
from .data import TextDataset
from .specs import get_text_spec


def _feature_cache(cfg: TrainConfig) -> Path:
    from ..runs import mark_cache

    return mark_cache(Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()) / "features"


def _head(cfg: TrainConfig, width: int, classes: int) -> Any:
    from ..backbones.build import build_head

    return build_head(width, classes, units=cfg.head_units, dropout=cfg.dropout, seed=cfg.seed)


def choose_length(counts: np.ndarray, cap: int) -> int:
    """The 95th percentile of token counts ([CLS] and [SEP] included), up to a multiple of 8, at most ``cap``."""
    p95 = float(np.percentile(counts, 95)) if len(counts) else 16.0
    return int(min(cap, max(16, 8 * math.ceil(p95 / 8))))


def load_tokenizer(folder: Path, max_length: int, vocab_size: int | None = None) -> WordPieceTokenizer:
    """The folder's WordPiece tokenizer: ``vocab.txt`` read within a size limit, in UTF-8, with BERT's special
    tokens, and no longer than the encoder's embedding table (an id past it would index nothing)."""
    from ..errors import WeightsError
    from ..runtime.limits import MAX_CONFIG_BYTES, MAX_MODEL_BYTES, read_bounded

    path = folder / "vocab.txt"
    try:
        text = read_bounded(path, MAX_MODEL_BYTES, str(path), WeightsError).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WeightsError(f"{path}: not UTF-8 (byte {exc.start}); a BERT vocabulary is one UTF-8 token per line. "
                           "Use the folder's original vocab.txt.") from None
    vocab = text.split("\n")
    if vocab and vocab[-1] == "":
        vocab = vocab[:-1]
    vocab = [v[:-1] if v.endswith("\r") else v for v in vocab]
    if vocab_size is not None and len(vocab) > vocab_size:
        raise WeightsError(f"{path}: {len(vocab):,} tokens, more than the encoder's {vocab_size:,} embeddings "
                           "(config.json vocab_size); the vocabulary and weights are from different models.")
    lower = True
    cfg = folder / "tokenizer_config.json"
    if cfg.is_file():
        try:
            doc = json.loads(read_bounded(cfg, MAX_CONFIG_BYTES, str(cfg), WeightsError))
            lower = bool(doc.get("do_lower_case", True)) if isinstance(doc, dict) else True
        except (ValueError, RecursionError, WeightsError):
            pass
    try:
        return WordPieceTokenizer(tuple(vocab), max_length=max_length, lowercase=lower)
    except ValueError as exc:
        raise WeightsError(f"{path}: {exc}. Use the vocab.txt that came with the model's weights.") from None


class TextTrainStage:
    """Train a text classifier; outputs ``model`` (model.keras, token ids in), ``labels``, ``metrics``, ``split``."""

    name: ClassVar[str] = "train"
    version: ClassVar[int] = 3  # 2: AdamW + label smoothing, the last epoch's weights, fine_tune_runs (soup);
    # 3: no arithmetic on the int32 ids (plain gather, mask by a cast), layer norm without SquaredDifference,
    # attention mask -50, mean pooling by means: tflite:int16 quantizes the graph and LiteRT runs it
    config_type: ClassVar[type] = TrainConfig

    def __init__(self, dataset: TextDataset, val_dataset: TextDataset | None, folder: Path, *,
                 progress: bool = True, expected_sha256: str | None = None) -> None:
        self.dataset, self.val_dataset, self.folder, self.progress = dataset, val_dataset, folder, progress
        self.expected_sha256 = expected_sha256  # the published hash, when the folder must be the published one

    def tool_versions(self) -> Mapping[str, str]:
        return library_versions("tensorflow", "tensorflow-cpu", "keras")

    def run(self, inputs: Mapping[str, Artifact], config: TrainConfig, ctx: RunContext) -> dict[str, Artifact]:
        import keras

        from .encoder import build_encoder, load_weights

        t_start = time.perf_counter()
        cfg = config
        keras.utils.set_random_seed(cfg.seed)
        spec = get_text_spec(cfg.backbone)
        timings: dict[str, float] = {}
        texts, labels, tr, va, te = self._split(cfg)
        classes = self.dataset.classes
        ctx.log(f"{len(tr)} training, {len(va)} validation and {len(te)} test texts, {len(classes)} classes")

        bcfg, tensors = self._checked_weights()
        tok, seq = self._tokenizer(cfg, spec, bcfg, [texts[i] for i in tr], ctx)
        length = seq["length"]
        ids = tok.batch(texts)

        t = time.perf_counter()
        encoder = build_encoder(bcfg, length, pad_id=tok.pad_id)
        load_weights(encoder, tensors, bcfg, str(self.folder / "model.safetensors"))
        n_ft = bcfg.layers if cfg.fine_tune_layers is None else min(cfg.fine_tune_layers, bcfg.layers)
        cut = bcfg.layers - n_ft
        key = hashlib.sha256(f"{inputs['data'].sha256}|{inputs['weights'].sha256}|{length}|text-v1".encode()
                             ).hexdigest()[:20]
        pooled, hidden, mask = self._features(encoder, ids, cut, _feature_cache(cfg), key, cfg.batch_size, tok.pad_id)
        timings["features_s"] = time.perf_counter() - t

        head = _head(cfg, bcfg.hidden, len(classes))
        kw = dict(batch_size=cfg.batch_size, patience=cfg.patience, seed=cfg.seed,
                  verbose=loops.verbosity() if self.progress else 0)
        t = time.perf_counter()
        history = loops.fit_arrays(head, "head", pooled[tr], labels[tr], pooled[va], labels[va],
                                   lr=cfg.learning_rate, epochs=cfg.epochs, **kw)
        fe_val = float((head.predict(pooled[va], verbose=0).argmax(1) == labels[va]).mean())
        timings["head_s"] = time.perf_counter() - t
        strategy = cfg.strategy
        fine_tune: dict[str, Any] = {}
        if strategy in (Strategy.AUTO, Strategy.FINE_TUNE, Strategy.FINE_TUNE_ALL) and cfg.fine_tune_epochs:
            t = time.perf_counter()
            fine_tune = self._fine_tune(encoder, head, bcfg, cut, length, cfg, (ids, labels, tr, va, te),
                                        (hidden, mask), history, kw, ctx)
            timings["fine_tune_s"] = time.perf_counter() - t
            strategy = Strategy.FINE_TUNE
        else:
            strategy = Strategy.FEATURE_EXTRACTION
        model = self._classifier(encoder, head, length)
        model.trainable = False
        t = time.perf_counter()
        metrics, test_metrics = _evaluate(model, ids, labels, va, te, classes)
        timings["evaluate_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t_start
        choice = {"strategy": strategy.value, "requested": cfg.strategy.value,
                  "feature_extraction_val_top1": round(fe_val, 4)}
        ctx.log(f"validation top-1 {metrics['top1']:.4f} (feature extraction alone: {fe_val:.4f})"
                + (f", test top-1 {test_metrics['top1']:.4f}" if test_metrics else "") + f" ({strategy.value})")
        return self._write(ctx, cfg, model, tok, classes, history, metrics, test_metrics, choice, fine_tune, timings,
                           spec, bcfg, seq, texts, labels, tr, va, te)

    def _checked_weights(self) -> tuple[Any, dict[str, Any]]:
        """The encoder's config and weights, checked against each other before any layer is built."""
        from .encoder import BertConfig, check_weights, read_safetensors

        bcfg = BertConfig.from_folder(self.folder)
        tensors = read_safetensors(self.folder / "model.safetensors", expected_sha256=self.expected_sha256)
        check_weights(tensors, bcfg, str(self.folder / "model.safetensors"))
        return bcfg, tensors

    def _tokenizer(self, cfg: TrainConfig, spec: Any, bcfg: Any, train_texts: list[str], ctx: RunContext
                   ) -> tuple[Any, dict[str, Any]]:
        """The tokenizer at the sequence length the run uses (the option, or the 95th percentile of the training
        texts' token counts under the encoder's cap), and what metrics.json says of the choice."""
        cap = min(cfg.max_length or spec.max_length, bcfg.max_positions)
        probe = load_tokenizer(self.folder, min(bcfg.max_positions, MAX_SEQUENCE), bcfg.vocab_size)
        counts = np.array([len(probe.encode(t)) for t in train_texts])
        length = cfg.max_length or choose_length(counts, cap)
        truncated = float((counts > length).mean())
        ctx.log(f"sequence length {length} tokens (95th percentile of the training texts: "
                f"{np.percentile(counts, 95):.0f}; {100 * truncated:.1f}% of them are cut)")
        seq = {"length": length, "chosen_from": "max_length option" if cfg.max_length else "95th percentile, cap "
               f"{cap}", "train_token_counts": {q: int(np.percentile(counts, q)) for q in (50, 90, 95, 99, 100)},
               "train_texts_cut": round(truncated, 4)}
        return load_tokenizer(self.folder, length, bcfg.vocab_size), seq

    def _fine_tune(self, encoder: Any, head: Any, bcfg: Any, cut: int, length: int, cfg: TrainConfig,
                   data: tuple, cached: tuple, history: list, kw: dict, ctx: RunContext) -> dict[str, Any]:
        """The top ``layers - cut`` layers fine-tuned with the head (on the cached states below the cut, or from
        the token ids when every layer trains), ``fine_tune_runs`` times; what was done, for metrics.json."""
        ids, labels, tr, va, te = data
        hidden, mask = cached
        n_ft = bcfg.layers - cut
        if cut == 0:  # every layer: the embeddings train too, from the token ids (nothing below to cache)
            top, x_tr, x_va = self._classifier(encoder, head, length), ids[tr], ids[va]
            encoder.trainable = True
            encoder.get_layer("embeddings").trainable = cfg.fine_tune_embeddings
        else:
            top = self._top(encoder, head, bcfg, cut, length)
            x_tr, x_va = (hidden[tr], mask[tr]), (hidden[va], mask[va])
        runs = self._fine_tune_runs(top, encoder, head, length, cfg, x_tr, x_va, ids, labels, tr, va, te,
                                    history, kw, ctx)
        return {"layers": n_ft, "of": bcfg.layers, "lr": cfg.fine_tune_lr, "schedule": "10% warm-up, cosine "
                "decay to zero; the last epoch's weights", "optimizer": "AdamW" if cfg.weight_decay else "Adam",
                "weight_decay": cfg.weight_decay, "label_smoothing": cfg.label_smoothing,
                "embeddings_trained": cut == 0 and cfg.fine_tune_embeddings,
                "cached_cut": None if cut == 0 else f"layer_{cut}", "runs": runs,
                "soup": (f"the weights of {len(runs)} fine-tuning runs averaged (seeds {cfg.seed}.."
                         f"{cfg.seed + len(runs) - 1}, one start)") if len(runs) > 1 else None}

    def _split(self, cfg: TrainConfig) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(texts, labels, train, validation, test indices): the seeded split, or a separate validation file
        (appended after the training texts; the test set then comes from the training file)."""
        ds, vds = self.dataset, self.val_dataset
        texts, labels = list(ds.texts), ds.labels
        if vds is None:
            parts = split(ds, cfg.val_split, cfg.seed, cfg.test_split)
            return texts, labels, parts[0], parts[1], parts[2] if len(parts) == 3 else np.zeros(0, np.int64)
        tr_va = split(ds, cfg.test_split or 0.0, cfg.seed) if cfg.test_split else (np.arange(len(texts)), None)
        te = tr_va[1] if cfg.test_split else np.zeros(0, np.int64)
        va = np.arange(len(texts), len(texts) + len(vds.texts))
        return texts + list(vds.texts), np.concatenate([labels, vds.labels]), tr_va[0], va, te

    def _fine_tune_runs(self, top: Any, encoder: Any, head: Any, length: int, cfg: TrainConfig, x_tr: Any, x_va: Any,
                        ids: np.ndarray, labels: np.ndarray, tr: np.ndarray, va: np.ndarray, te: np.ndarray,
                        history: list, kw: dict, ctx: RunContext) -> list[dict[str, Any]]:
        """Fine-tune ``fine_tune_runs`` times from the same start (the feature-extraction head on the pretrained
        encoder), each run with its own seed (data order, dropout), and average their weights: a uniform model
        soup, one model of the same size and speed. Runs from one pretrained start stay in one basin, so the
        average works like an ensemble of them. Returns each run's validation (and test) top-1."""
        import keras

        start = top.get_weights() if cfg.fine_tune_runs > 1 else []
        classifier = self._classifier(encoder, head, length) if cfg.fine_tune_runs > 1 else None  # shares layers
        finals, runs = [], []
        for i in range(cfg.fine_tune_runs):
            if i:
                top.set_weights(start)
            keras.utils.set_random_seed(cfg.seed + i)
            history += loops.fit_arrays(top, "fine_tune" if cfg.fine_tune_runs == 1 else f"fine_tune_run{i + 1}",
                                        x_tr, labels[tr], x_va, labels[va], lr=cfg.fine_tune_lr,
                                        epochs=cfg.fine_tune_epochs, start_epoch=len(history), warmup_decay=True,
                                        weight_decay=cfg.weight_decay, label_smoothing=cfg.label_smoothing,
                                        **dict(kw, seed=cfg.seed + i))
            if cfg.fine_tune_runs == 1:
                return []
            row: dict[str, Any] = {"seed": cfg.seed + i}
            for part, idx in (("validation_top1", va), ("test_top1", te)):
                if len(idx):
                    p = classifier.predict(ids[idx], batch_size=64, verbose=0)
                    row[part] = round(float((p.argmax(1) == labels[idx]).mean()), 4)
            runs.append(row)
            ctx.log(f"fine-tuning run {i + 1} of {cfg.fine_tune_runs}: validation top-1 {row['validation_top1']:.4f}")
            finals.append(top.get_weights())
        top.set_weights([np.mean([w[k] for w in finals], axis=0).astype(finals[0][k].dtype)
                         for k in range(len(finals[0]))])
        return runs

    def _features(self, encoder: Any, ids: np.ndarray, cut: int, cache: Path, key: str, batch: int, pad_id: int
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Mean-pooled final states (for the head) and, when fine-tuning starts above the first layer, the
        states below the first fine-tuned layer; cached by content."""
        import keras

        from .encoder import mean_pool

        names = ["pooled"] + ([f"hidden{cut}"] if cut > 0 else [])
        paths = [cache / f"text-{key}-{what}.npy" for what in names]
        got = [load_npy(p) if p.is_file() else None for p in paths]
        mask = (ids != pad_id).astype(np.float32)
        if all(g is not None and g.shape[0] == len(ids) for g in got):
            return np.asarray(got[0]), (np.asarray(got[1]) if cut > 0 else None), mask
        x = encoder.get_layer("embeddings").output
        m = encoder.outputs[1]
        states = [x]
        for i in range(len([ly for ly in encoder.layers if ly.name.startswith("layer_")])):
            x = encoder.get_layer(f"layer_{i}")(x, m)
            states.append(x)
        outs = [mean_pool(x, m)] + ([states[cut]] if cut > 0 else [])
        arrays = keras.Model(encoder.input, outs).predict(ids, batch_size=batch, verbose=0)
        arrays = arrays if isinstance(arrays, (list, tuple)) else [arrays]
        for p, a in zip(paths, arrays):
            save_npy(p, a.astype(np.float32))
        return arrays[0], (arrays[1] if cut > 0 else None), mask

    def _top(self, encoder: Any, head: Any, bcfg: Any, cut: int, length: int) -> Any:
        """(hidden states at the cut, mask) -> the top layers (trainable) -> mean pool -> head."""
        import keras

        from .encoder import mean_pool

        h = keras.Input((length, bcfg.hidden), name="hidden")
        m = keras.Input((length,), name="mask")
        x = h
        for i in range(cut, bcfg.layers):
            layer = encoder.get_layer(f"layer_{i}")
            layer.trainable = True
            x = layer(x, m)
        return keras.Model([h, m], head(mean_pool(x, m)))

    def _classifier(self, encoder: Any, head: Any, length: int) -> Any:
        import keras

        from .encoder import mean_pool

        ids = keras.Input((length,), dtype="int32", name="tokens")
        x, m = encoder(ids)
        return keras.Model(ids, head(mean_pool(x, m)), name="edgetl_text_classifier")

    def _write(self, ctx: RunContext, cfg: TrainConfig, model: Any, tok: WordPieceTokenizer, classes: list[str],
               history: list, metrics: dict, test_metrics: dict | None, choice: dict, fine_tune: dict, timings: dict,
               spec: Any, bcfg: Any, seq: dict, texts: list[str], labels: np.ndarray, tr: np.ndarray, va: np.ndarray,
               te: np.ndarray) -> dict[str, Artifact]:
        out = ctx.out_dir
        save_run_files(out, model, classes, cfg, history)
        atomic_write_json(out / "tokenizer.json", tok.to_dict())
        parts = (("train", tr), ("val", va), ("test", te))
        record = TrainRecord(
            "text", metrics, test_metrics, choice, fine_tune, timings,
            data_facts(self.dataset, self.val_dataset, cfg, classes, "texts", (len(tr), len(va), len(te)), "where"),
            {"backbone": spec.name, "alpha": None, "input_size": seq["length"], "kind": "text",
             "weights": str(self.folder), "params": int(model.count_params()),
             "weights_sha256_checked": self.expected_sha256 is not None,
             "encoder": {"layers": bcfg.layers, "hidden": bcfg.hidden, "heads": bcfg.heads},
             "input": {"shape": [1, seq["length"]], "dtype": "int32", "name": "tokens"}},
            dict(self.tool_versions()),
            Split("text", str(self.dataset.root), {p: tuple(texts[i] for i in idx) for p, idx in parts},
                  {p: tuple(int(labels[i]) for i in idx) for p, idx in parts},
                  {p: tuple(int(i) for i in idx) for p, idx in parts}),
            {"sequence": seq})
        record.write(out)
        ctx.info = {"top1": metrics["top1"], "strategy": choice["strategy"]}
        return {n: Artifact.from_file(out / f, k) for n, f, k in [
            ("model", "model.keras", "keras"), ("labels", "labels.txt", "labels"), ("metrics", "metrics.json", "json"),
            ("split", "split.json", "json"), ("history", "history.json", "json"),
            ("tokenizer", "tokenizer.json", "json")]}


def _evaluate(model: Any, ids: np.ndarray, labels: np.ndarray, va: np.ndarray, te: np.ndarray, classes: list[str]
              ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Validation metrics, and the held-out test split's when there is one."""
    metrics = classification_metrics(model.predict(ids[va], batch_size=64, verbose=0), labels[va], classes)
    metrics["split"] = "validation (also chose the best epoch: slightly optimistic)"
    if not len(te):
        return metrics, None
    test = classification_metrics(model.predict(ids[te], batch_size=64, verbose=0), labels[te], classes)
    test["split"] = "test (held out: used for no choice)"
    return metrics, test


def check_text_config(cfg: TrainConfig) -> None:
    """Image-only options make no sense for text: say so rather than ignore them."""
    from ..config.train import refuse_other_modality

    refuse_other_modality(cfg, "text")  # alpha, image_size, early_layer, augment
    if cfg.ray:
        raise ConfigError("--ray computes image features on a cluster; text training runs on this machine. Remove it.")
    if cfg.strategy == Strategy.FEATURE_EXTRACTION_EARLY:
        raise ConfigError("feature_extraction_early is an image strategy; for text use auto, feature_extraction or "
                          "fine_tune.")
