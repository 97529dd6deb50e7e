"""The zip-bomb guard of `.fkeras`, `.keras` and `.weights.npz` reading.

The crafted archives hold 64 MiB of zeros deflated to about 64 KiB (written in 1 MiB pieces):
refused from the declared size (with a low `max_weights_bytes`) or the compression ratio, and,
when the header lies about the size, refused after reading no more than the declared size
(checked with tracemalloc's peak, far below the 64 MiB a full read would take)."""

import io
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

import fkeras as fk

MiB = 2**20
BOMB = 64 * MiB


def small_model():
    return fk.Sequential([fk.Input((3,)), fk.layers.Dense(2)], seed=0)


def saved_members(tmp_path):
    """The members of a real `.fkeras` file, as bytes."""
    path = tmp_path / "real.fkeras"
    small_model().save(path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_archive(path, members: dict, bomb: str | None = None, bomb_size: int = BOMB):
    """A zip with `members` (bytes, deflated) and, under the name `bomb`, `bomb_size` zeros."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name != bomb:
                archive.writestr(name, data)
        if bomb is not None:
            with archive.open(bomb, "w") as member:
                piece = bytes(MiB)
                for _ in range(bomb_size // MiB):
                    member.write(piece)
    return path


def declare_size(path, name: str, size: int) -> None:
    """Rewrite the uncompressed size of member `name` in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        local = archive.getinfo(name).header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, size)
    start = data.find(b"PK\x01\x02")
    while start != -1:
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, start + 24, size)
        start = data.find(b"PK\x01\x02", start + 4)
    path.write_bytes(bytes(data))


def test_a_bomb_is_refused_by_its_compression_ratio(tmp_path):
    path = write_archive(tmp_path / "bomb.fkeras", saved_members(tmp_path), bomb="weights.npz")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("weights.npz")
    assert info.file_size == BOMB and info.compress_size < BOMB / 500  # a real bomb
    with pytest.raises(ValueError, match=r"'weights.npz' is compressed \d+ times.*Received:"):
        fk.saving.load_model(path)


def test_a_bomb_is_refused_by_its_declared_size(tmp_path):
    path = write_archive(tmp_path / "bomb.fkeras", saved_members(tmp_path), bomb="weights.npz")
    with pytest.raises(ValueError, match=f"max_weights_bytes=.*Received: file_size={BOMB}"):
        fk.saving.load_model(path, max_weights_bytes=MiB, max_compression_ratio=10**6)


def test_a_lying_header_is_never_read_past_the_declared_size(tmp_path):
    path = write_archive(tmp_path / "liar.fkeras", saved_members(tmp_path), bomb="weights.npz")
    declare_size(path, "weights.npz", 1000)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("weights.npz").file_size == 1000  # looks harmless
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="truncated or corrupt"):
            fk.saving.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB  # the 64 MiB behind the header were never decompressed


def test_the_size_limits_are_the_declared_sizes(tmp_path):
    path = tmp_path / "m.fkeras"
    model = small_model()
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        weights = archive.getinfo("weights.npz").file_size
        config = archive.getinfo("config.json").file_size
    loaded = fk.saving.load_model(path, max_weights_bytes=weights, max_json_bytes=config)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=f"'weights.npz' declares {weights} bytes"):
        fk.saving.load_model(path, max_weights_bytes=weights - 1)
    with pytest.raises(ValueError, match=f"'config.json' declares {config} bytes.*max_json_bytes"):
        fk.saving.load_model(path, max_json_bytes=config - 1)


def test_a_huge_config_is_refused(tmp_path):
    members = saved_members(tmp_path)
    members["config.json"] = json.dumps({"pad": " " * (2 * MiB)}).encode()
    path = write_archive(tmp_path / "big.fkeras", members)
    with pytest.raises(ValueError, match="'config.json' declares .*max_json_bytes"):
        fk.saving.load_model(path, max_json_bytes=MiB)


def npz_with_header(shape, data: bytes) -> bytes:
    """A `.npz` whose one array declares `shape` (float32) but holds `data`."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as npz:
        npz.writestr("w0.npy", header.getvalue() + data)  # the header starts with the magic
    return buffer.getvalue()


def test_an_array_larger_than_its_member_is_refused(tmp_path):
    members = saved_members(tmp_path)
    members["weights.npz"] = npz_with_header((2**40,), bytes(64))
    path = write_archive(tmp_path / "shape.fkeras", members)
    with pytest.raises(ValueError, match=r"declares shape \(1099511627776,\).*Received: shape="):
        fk.saving.load_model(path)
    weights = tmp_path / "shape.weights.npz"
    weights.write_bytes(npz_with_header((2**40,), bytes(64)))
    with pytest.raises(ValueError, match="declares shape"):
        small_model().load_weights(weights)


def test_a_compressed_bomb_inside_the_weights_archive_is_refused(tmp_path):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, w0=np.zeros(MiB, np.float32))  # 4 MiB of zeros, ~4 KiB
    weights = tmp_path / "bomb.weights.npz"
    weights.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="'w0.npy' is compressed"):
        small_model().load_weights(weights)
    with pytest.raises(ValueError, match=r"'w0.npy' declares \d+ bytes.*max_weights_bytes"):
        fk.saving.load_weights(small_model(), weights, max_weights_bytes=MiB)


def test_keras_files_are_guarded_too(tmp_path):
    pytest.importorskip("h5py")
    members = {"config.json": b"{}", "metadata.json": b"{}"}
    path = write_archive(tmp_path / "bomb.keras", members, bomb="model.weights.h5")
    with pytest.raises(ValueError, match=r"load_keras_model.*'model.weights.h5' is compressed"):
        fk.saving.load_model(path)
    with pytest.raises(ValueError, match=f"'model.weights.h5' declares {BOMB} bytes"):
        fk.saving.load_model(path, max_weights_bytes=MiB, max_compression_ratio=10**6)
    declare_size(path, "model.weights.h5", 1000)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        fk.saving.load_model(path)


@pytest.mark.parametrize(
    "kwargs,received",
    [
        (dict(max_weights_bytes=0), "max_weights_bytes=0"),
        (dict(max_json_bytes=-1), "max_json_bytes=-1"),
        (dict(max_compression_ratio=0.0), "max_compression_ratio=0.0"),
        (dict(max_weights_bytes=1.5), "max_weights_bytes=1.5"),
    ],
)
def test_bad_limits_raise(tmp_path, kwargs, received):
    path = tmp_path / "m.fkeras"
    small_model().save(path)
    with pytest.raises(ValueError, match=f"load_model.*Received: {received}"):
        fk.saving.load_model(path, **kwargs)


def test_checkpoint_reads_are_bounded_too(tmp_path):
    """A training checkpoint whose state member is a deflated bomb is refused unread."""
    import zipfile

    import fkeras as fk

    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(2)], seed=0)
    trainer = model.compile(optimizer="adam", loss="mse")
    good = tmp_path / "good.ckpt"
    fk.saving.save_checkpoint(trainer, good, epoch=1)
    with zipfile.ZipFile(good) as archive:
        metadata = archive.read("metadata.json")
    bomb = tmp_path / "bomb.ckpt"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", metadata)
        archive.writestr("state.npz", b"\0" * (64 * 2**20))
    with pytest.raises(ValueError, match=r"compressed \d+ times.*Received: compress_size"):
        fk.saving.restore_checkpoint(trainer, bomb)
    assert fk.saving.restore_checkpoint(trainer, good) == 1  # the good one still loads
