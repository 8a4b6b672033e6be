from pathlib import Path

from click.testing import CliRunner

from edgetl.cli.main import cli


def test_unknown_command_did_you_mean() -> None:
    r = CliRunner().invoke(cli, ["trian"])
    assert r.exit_code == 2 and "Did you mean 'train'" in r.output


def test_train_refuses_high_lr_before_any_work(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["train", "--data", str(tmp_path), "--fine-tune-lr", "0.01", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "catastrophic forgetting" in str(r.exception)
    assert not (tmp_path / "o").exists()


def test_config_file_unknown_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  data: x\n  epoch: 3\n")
    r = CliRunner().invoke(cli, ["train", "--config", str(cfg)])
    assert "Did you mean 'epochs'" in str(r.exception)


def test_backbones_json() -> None:
    import json

    r = CliRunner().invoke(cli, ["backbones", "--json"])
    assert r.exit_code == 0
    names = [row["name"] for row in json.loads(r.output)]
    assert "mobilenet_v2" in names and "efficientnet_b0" in names


def test_export_needs_a_run_folder(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["export", str(tmp_path)])
    assert "not an edgetl run folder" in str(r.exception)


def test_train_without_data_is_a_config_error_not_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "train", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "train.data is required" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "o").exists()


def test_export_on_a_folder_that_is_no_run_answers_before_loading_tensorflow(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom edgetl.cli.main import main\nsys.argv=['edgetl','export',%r]\ntry:\n    main()\n"
            "except SystemExit as e:\n    print('EXIT', e.code, 'tensorflow' in sys.modules)") % str(tmp_path)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "EXIT 2 False" in p.stdout and "not an edgetl run folder" in p.stderr


def test_first_hour_mistakes_answer_fast_with_the_exit_code_of_the_table(tmp_path: Path) -> None:
    """docs/cli.md: 1 for a file or data that cannot be used, 2 for a configuration mistake; no TensorFlow."""
    import subprocess
    import sys

    photos = tmp_path / "photos"
    for c in ("cat", "dog"):
        (photos / c).mkdir(parents=True)
        (photos / c / "a.jpg").write_bytes(b"\xff\xd8 not really")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  data: x\n  epochs: [1\n")
    cases = [(["inspect", str(tmp_path / "missing.tflite")], 1, "does not exist"),
             (["predict", str(tmp_path / "missing.tflite"), "x.jpg"], 1, "does not exist"),
             (["pipeline", str(bad)], 2, "line 3, column"),
             (["train", "--data", str(photos), "--backbone", "minilm_l6", "--out", str(tmp_path / "o")], 1,
              "is a folder of images")]
    code = ("import sys, time\nfrom edgetl.cli.main import main\nsys.argv=['edgetl', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    print('EXIT', e.code, 'tensorflow' in sys.modules)")
    for argv, rc, words in cases:
        p = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
        assert f"EXIT {rc} False" in p.stdout and words in p.stderr, (argv, p.stdout, p.stderr[-800:])
