"""A folder of Parquet files as one data source (``transactions: {path: exports/orders}``).

Warehouses and Spark/Hive jobs export a large table as parts — ``part-0.parquet``,
``year=2024/month=03/part-1.parquet`` — and a ``_SUCCESS`` marker. Every reader of a source
takes such a folder as one table: the loader (:func:`planlib.data.load.load_source`, each part
checked like a single Parquet file and named in its own messages), ``planlib validate``
(:func:`planlib.data.contract.peek`) and the per-customer aggregation in DuckDB
(:mod:`planlib.data.aggregate`, ``read_parquet([...])`` of :func:`folder_parts`).

What a folder may hold is checked once, here, so all of them refuse the same folders with the
same line: no Parquet file at all, any other file beside the parts (a CSV left there would
otherwise go missing silently), or parts whose columns differ in name, order or type (a part from
another export would otherwise be read with empty columns, or fail deep inside a reader).
Only the parts' footers are read for that (``pyarrow.parquet.read_schema``), not their rows.
"""

from __future__ import annotations

from pathlib import Path

from planlib.data.readers import fail


def parquet_parts(folder: Path, label: str) -> list[Path]:
    """The Parquet files of a folder source, sorted; a folder with anything else is refused.

    Parts may sit in subfolders (``year=2024/month=03/part-0.parquet``); files and folders whose
    names start with ``.`` or ``_`` are bookkeeping of the writer (``_SUCCESS``, ``.crc``) and are
    skipped. Any other file (a CSV left beside the parts, say) is refused rather than ignored, so no
    orders silently go missing.
    """
    parts, others = [], []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).parts
        if not p.is_file() or any(x.startswith((".", "_")) for x in rel):
            continue
        (parts if p.suffix.lower() == ".parquet" else others).append(p)
    if others:
        raise fail(label, f"文件夹 {folder} 里除了 Parquet 文件还有 {others[0].relative_to(folder)}"
                          f"{f' 等 {len(others)} 个文件' if len(others) > 1 else ''}",
                   "文件夹数据源只能放同一张表的 Parquet 分片;把其他文件移出这个文件夹")
    if not parts:
        raise fail(label, f"文件夹 {folder} 里没有 Parquet 文件",
                   "写出数据文件的路径,或把这张表的 Parquet 分片放进这个文件夹")
    return parts


def folder_parts(folder: Path, label: str) -> tuple[list[Path], list[str]]:
    """The folder's parts (:func:`parquet_parts`) and their column names, every part checked to be
    Parquet with the first part's columns — names, order and types (nullability and the writer's
    metadata may differ). Each refusal is one line naming the part and the fix."""
    import pyarrow.parquet as pq

    parts = parquet_parts(folder, label)
    first = None
    for part in parts:
        rel = part.relative_to(folder)
        try:
            schema = pq.read_schema(part)
        except Exception:  # pyarrow's errors for a file that is not Parquet vary
            raise fail(label, f"文件夹 {folder} 中的 {rel} 不是可读的 Parquet 文件",
                       "重新导出这个分片,或把它移出这个文件夹") from None
        columns = [(f.name, str(f.type)) for f in schema]
        if first is None:
            first, first_rel = columns, rel
            continue
        if columns != first:
            raise fail(label, f"文件夹 {folder} 中的 {rel} 与 {first_rel} 的列不一致: {_difference(first, columns)}",
                       "同一文件夹里的分片必须来自同一次导出(列名、顺序和类型都相同);"
                       "重新导出,或把不同的表放进不同的文件夹")
    return parts, [name for name, _ in first or []]


def _difference(first: list[tuple[str, str]], other: list[tuple[str, str]]) -> str:
    """The first difference between two parts' columns, as a planner can look it up."""
    names, other_names = [n for n, _ in first], [n for n, _ in other]
    if missing := [n for n in names if n not in other_names]:
        return f"缺少列 {'、'.join(missing)}"
    if extra := [n for n in other_names if n not in names]:
        return f"多出列 {'、'.join(extra)}"
    if names != other_names:
        return f"列的顺序不同({'、'.join(other_names)})"
    for (name, kind), (_, other_kind) in zip(first, other, strict=True):
        if kind != other_kind:
            return f"列 {name} 的类型是 {other_kind},而不是 {kind}"
    return "列不同"  # unreachable while the lists differ; kept so a message never reads empty
