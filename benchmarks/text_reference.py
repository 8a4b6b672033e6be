"""edgetl's Keras MiniLM against the reference implementation (Hugging Face transformers on PyTorch).

    python benchmarks/text_reference.py --shared ../shared --reference-python /path/to/venv/bin/python

The reference runs in another Python that has ``torch`` and ``transformers`` (neither is an edgetl
dependency: ``python -m venv ref && ref/bin/pip install torch==2.13.0 transformers``). Both sides read the
same ``all-MiniLM-L6-v2`` folder and embed the same real sentences (the first questions and messages of
both text sets): transformers' tokenizer and BertModel with sentence-transformers' mean pooling against
edgetl's own WordPiece tokenizer and Keras encoder. Writes token-id agreement, the largest absolute
difference of the pooled embeddings and their cosine similarity to benchmarks/results/text_reference.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REFERENCE = r'''
import json, sys, numpy as np, torch, transformers
folder, texts_file, out, length = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
texts = json.load(open(texts_file))
tok = transformers.AutoTokenizer.from_pretrained(folder)
model = transformers.AutoModel.from_pretrained(folder).eval()
enc = tok(texts, padding="max_length", truncation=True, max_length=length, return_tensors="pt")
with torch.no_grad():
    h = model(**enc).last_hidden_state
m = enc["attention_mask"].unsqueeze(-1).float()
pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
np.savez(out, ids=enc["input_ids"].numpy(), pooled=pooled.numpy(),
         versions=np.array([torch.__version__, transformers.__version__]))
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--reference-python", required=True, help="a Python with torch and transformers")
    ap.add_argument("--per-set", type=int, default=200)
    ap.add_argument("--length", type=int, default=64)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "text_reference.json"))
    args = ap.parse_args()
    shared = Path(args.shared).resolve()
    folder = shared / "weights" / "all-MiniLM-L6-v2"
    texts: list[str] = []
    for name in ("trec6", "sms_spam"):
        with open(shared / "datasets" / name / f"{name}.csv", encoding="utf-8", newline="") as f:
            texts += [r["text"] for r in csv.DictReader(f)][: args.per_set]
    tmp = Path(tempfile.mkdtemp(prefix="edgetl-textref-"))
    (tmp / "texts.json").write_text(json.dumps(texts))
    t0 = time.perf_counter()
    subprocess.run([args.reference_python, "-c", REFERENCE, str(folder), str(tmp / "texts.json"), str(tmp / "ref.npz"),
                    str(args.length)], check=True)
    ref = np.load(tmp / "ref.npz")
    ref_s = time.perf_counter() - t0

    from edgetl.deps import import_tensorflow

    import_tensorflow()
    from edgetl.text.encoder import BertConfig, build_encoder, load_weights, mean_pool, read_safetensors
    from edgetl.text.specs import TEXT_BACKBONES
    from edgetl.text.train import load_tokenizer

    spec = TEXT_BACKBONES["minilm_l6"]
    tok = load_tokenizer(folder, args.length)
    ids = tok.batch(texts)
    cfg = BertConfig.from_folder(folder)
    enc = build_encoder(cfg, args.length)
    load_weights(enc, read_safetensors(folder / "model.safetensors", expected_sha256=spec.sha256), cfg, "minilm")
    h, m = enc.predict(ids, batch_size=32, verbose=0)
    pooled = np.asarray(mean_pool(h, m))
    diff = np.abs(pooled - ref["pooled"])
    cos = np.sum(pooled * ref["pooled"], 1) / (np.linalg.norm(pooled, axis=1) * np.linalg.norm(ref["pooled"], axis=1))
    from edgetl.bench.fingerprint import machine_info

    doc = {"script": "benchmarks/text_reference.py", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
           "texts": len(texts), "length": args.length, "sets": ["trec6", "sms_spam"], "per_set": args.per_set,
           "reference": {"torch": str(ref["versions"][0]), "transformers": str(ref["versions"][1]),
                         "seconds": round(ref_s, 1)},
           "token_ids_identical": bool(np.array_equal(ids, ref["ids"])),
           "texts_with_other_ids": int(np.sum(np.any(ids != ref["ids"], axis=1))),
           "pooled_max_abs_diff": float(diff.max()), "pooled_mean_abs_diff": float(diff.mean()),
           "cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
           "embedding_scale": float(np.abs(ref["pooled"]).mean())}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
