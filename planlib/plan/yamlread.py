"""Read a hand-written YAML file into plain Python data, remembering the line of every key.

Plan files are typed by planners, so this reader is strict exactly where YAML surprises people.
It only *composes* the node tree (nothing is ever constructed from a tag), resolves plain
scalars by the YAML 1.2 core rules plus ISO dates, and turns the classic traps — duplicate keys,
``yes``/``no`` booleans, impossible dates, explicit tags, syntax errors — into
:class:`~planlib.errors.Problem` entries instead of guesses or tracebacks.
"""

from __future__ import annotations

import calendar
import os
import re
import stat
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from planlib.errors import Problem, escape_controls

KeyPath = tuple[str | int, ...]

# Every node the composer resolves itself gets this tag, so a tag still differing from it was
# written explicitly in the file.
_IMPLICIT = "tag:planlib,2024:implicit"
_CORE = "tag:yaml.org,2002:"
_CORE_TAGS = {"str", "int", "float", "bool", "null", "map", "seq"}
_MAX_NODES = 200_000  # guards against alias bombs (a few lines expanding to millions of values)
# A plan is a few kilobytes; these bound the file and its text after *aliases are expanded (a
# long string repeated through aliases would otherwise fill the memory in validate).
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_EXPANDED_BYTES = 8 * 1024 * 1024

# Only decimal numbers: hex, octal, .inf and .nan stay text, as no plan field wants them.
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
# YAML 1.2 reads 0123 as 123 and YAML 1.1 as octal 83; neither is what a planner typing an id
# or a code meant, so such scalars stay text and the schema decides.
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_NORWAY = {"yes", "no", "on", "off", "y", "n"}

# ruamel's wording of common syntax errors → (what it means, how to fix it)
_SYNTAX_HINTS = [
    ("mapping values are not allowed", "这里不能出现冒号", "冒号是文字内容时请给整个值加引号;否则检查缩进"),
    ("'\\t'", "出现了 Tab 字符", "YAML 只能用空格缩进,请把 Tab 换成空格"),
    ("could not find expected ':'", "缺少冒号", "每个键后面要写「: 」(冒号加空格)"),
    ("expected <block end>", "缩进不一致", "同一层的键要左对齐,子项比上一层多缩进两个空格"),
    ("expected ',' or ']'", "方括号没有配对", "检查 [ ] 是否成对;文字里有逗号或冒号时请加引号"),
    ("expected ',' or '}'", "花括号没有配对", "检查 { } 是否成对;文字里有逗号或冒号时请加引号"),
    ("undefined alias", "引用了未定义的别名", "先用 &名称 定义锚点,再用 *名称 引用;或直接写出内容"),
    ("single document", "文件里有多个 YAML 文档", "一个计划文件只写一个文档,删除多余的 ---"),
    ("end of stream", "文件意外结束", "检查引号和括号是否成对"),
    ("maximum depth", "嵌套层数过多", "检查缩进和括号;计划文件只有几层嵌套"),
]


@dataclass(frozen=True)
class Loc:
    """Where a value was written: the file and the 1-based line of its key or list item."""

    file: Path
    line: int


@dataclass
class YamlDoc:
    """One file read into plain data; ``data`` is None when the file could not be used at all."""

    data: dict | None
    locs: dict[KeyPath, Loc] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    flagged: set[KeyPath] = field(default_factory=set)  # already reported; the schema need not repeat


def format_path(path: KeyPath) -> str:
    """Render ``("goals", 0, "target")`` as ``goals[0].target``, the form shown to planners."""
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out


def parse_path(text: str) -> KeyPath:
    """Inverse of :func:`format_path` (keys containing ``.`` or ``[`` cannot round-trip)."""
    return tuple(int(i) if i else k for k, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text))


def display(path: Path) -> str:
    """The file name shown in problems: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _TooLarge(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


class UnreadablePlanFile(ValueError):
    """The path is not a regular file, or too large to be a plan: ``hint`` says what to do."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def read_plan_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a plan file: only a regular file is opened (a FIFO or a device such as
    ``/dev/zero`` would block or never end) and at most ``limit`` bytes are read.

    Raises :class:`UnreadablePlanFile` (one Chinese line and a hint) or ``OSError``.
    """
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise UnreadablePlanFile("这是一个文件夹,不是计划文件", "写出文件夹里某个 .yaml 计划文件的路径")
    not_regular = UnreadablePlanFile("不是普通文件(管道、设备或套接字),没有读取", "请指向一个 .yaml 计划文件")
    if not stat.S_ISREG(info.st_mode):
        raise not_regular  # never opened: opening some devices does something
    # opened without blocking and checked again on the open file: a FIFO swapped in after the
    # stat above is refused too, instead of waiting for a writer
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise not_regular
        too_large = UnreadablePlanFile(f"文件有 {_size(max(info.st_size, limit + 1))},超过计划文件上限 {_size(limit)}",
                                       "计划文件只写设置(几 KB);数据请放在 data: 指向的数据文件里")
        if info.st_size > limit:
            raise too_large
        data = f.read(limit + 1)  # the file may have grown since fstat
    if len(data) > limit:
        raise too_large
    return data


class _ImplicitResolver(VersionedResolver):
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Tag:
        return Tag(suffix=_IMPLICIT)


def read_yaml(path: Path) -> YamlDoc:
    """Read one YAML file; every problem found is listed in the result, nothing is raised."""
    shown = display(path)
    try:
        text = read_plan_bytes(path).decode("utf-8-sig")
    except UnreadablePlanFile as exc:
        return YamlDoc(None, problems=[Problem(shown, "", str(exc), exc.hint)])
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        return YamlDoc(None, problems=[Problem(
            shown, "", "文件不是 UTF-8 编码", "用编辑器另存为 UTF-8(记事本:另存为 → 编码选 UTF-8)", line)])
    except FileNotFoundError:
        return YamlDoc(None, problems=[Problem(shown, "", "文件不存在", f"检查路径(当前目录是 {Path.cwd()})")])
    except OSError as exc:
        return YamlDoc(None, problems=[Problem(shown, "", f"无法读取文件: {exc.strerror}", "检查路径和读取权限")])

    yaml = YAML(typ="safe", pure=True)
    yaml.Resolver = _ImplicitResolver
    yaml.max_depth = 50  # plans nest about five levels; this stops runaway nesting before recursion does
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReusedAnchorWarning)  # a reused anchor is legal YAML
            root = yaml.compose(text)
    except MarkedYAMLError as exc:
        return YamlDoc(None, problems=[_syntax_problem(shown, exc)])
    except ReaderError as exc:  # a control character (BEL, ESC, NUL …) anywhere, even in a comment
        line = text[: exc.position].count("\n") + 1
        char = escape_controls(chr(exc.character)) if isinstance(exc.character, int) else "?"
        return YamlDoc(None, problems=[Problem(
            shown, "", f"第 {line} 行有 YAML 不允许的控制字符 {char}", "删除这个字符(常见于从别处粘贴的文字)", line)])
    except YAMLError as exc:  # any other reader error: one line, never a traceback
        original = " ".join(str(exc).split())
        return YamlDoc(None, problems=[Problem(shown, "", f"YAML 无法读取({original})",
                                               "检查这个文件的格式;可对照 parameters/demo/2024Q2.yaml")])

    doc = YamlDoc(None)
    if root is None:
        doc.problems.append(Problem(shown, "", "文件是空的", "从 parameters/demo/2024Q2.yaml 复制一份再修改"))
        return doc
    try:
        data = _Converter(path, shown, doc).convert(root, (), 1)
    except _TooLarge as exc:
        doc.problems.append(Problem(shown, "", exc.message, "不要用 *别名 反复引用大段内容"))
        return doc
    if not isinstance(data, dict):
        doc.problems.append(Problem(shown, "", "文件顶层应是键值映射", "以 meta: 这样的键开头,每行一个键", 1))
        return doc
    doc.data = data
    return doc


def _syntax_problem(shown: str, exc: MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
    original = " ".join(" ".join(str(part) for part in (exc.context, exc.problem) if part).split())
    what, hint = "YAML 语法错误", "检查这一行和上一行的缩进、冒号、引号和括号"
    for needle, meaning, fix in _SYNTAX_HINTS:
        if needle in original:
            what, hint = f"YAML 语法错误:{meaning}", fix
            break
    where = f"第 {line} 行第 {col} 列" if line else "位置未知"
    start = exc.context_mark
    # an unclosed bracket or quote is found lines later; where it opened is what the planner needs
    if start and mark and start.line != mark.line and any(w in str(exc.context) for w in ("flow", "quoted")):
        where += f";未闭合的括号或引号从第 {start.line + 1} 行开始"
    return Problem(shown, "", f"{what}({where};原文: {original})", hint, line)


class _Converter:
    """Turns composed nodes into dicts, lists and scalars, filling ``doc.locs`` on the way."""

    def __init__(self, file: Path, shown: str, doc: YamlDoc):
        self.file, self.shown, self.doc = file, shown, doc
        self.active: set[int] = set()  # nodes being converted; meeting one again means a recursive alias
        self.count = 0
        self.bytes = 0  # text of every scalar and key, counted each time an alias repeats it

    def problem(self, path: KeyPath, line: int, message: str, hint: str, *, flag: bool = True) -> None:
        self.doc.problems.append(Problem(self.shown, format_path(path), message, hint, line))
        if flag:
            self.doc.flagged.add(path)

    def convert(self, node: Any, path: KeyPath, line: int) -> Any:
        self.doc.locs[path] = Loc(self.file, line)
        self.count += 1
        if self.count > _MAX_NODES:
            raise _TooLarge(f"内容过多(超过 {_MAX_NODES} 项)")
        if isinstance(node, ScalarNode):
            self.bytes += len(node.value.encode("utf-8", "surrogatepass"))
        elif isinstance(node, MappingNode):
            self.bytes += sum(len(k.value.encode("utf-8", "surrogatepass")) for k, _ in node.value
                              if isinstance(k, ScalarNode))
        if self.bytes > MAX_EXPANDED_BYTES:
            raise _TooLarge(f"展开别名后内容超过 {_size(MAX_EXPANDED_BYTES)}")
        tag = str(node.tag)
        if tag != _IMPLICIT and tag.removeprefix(_CORE) not in _CORE_TAGS:
            shown_tag = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
            self.problem(path, line, f"不允许使用 YAML 标签 {shown_tag}",
                         "删除这个标签;计划文件只能写文字、数字、日期、true/false、列表和映射")
            return None
        if id(node) in self.active:
            self.problem(path, line, "别名引用了包含它自己的内容", "删除这个 *别名,直接写出内容")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path, tag)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path, tag)
            return self._scalar(node, path, line, tag)
        finally:
            self.active.discard(id(node))

    def _wrong_kind(self, node: Any, path: KeyPath, tag: str, kind: str) -> bool:
        if tag in (_IMPLICIT, _CORE + kind):
            return False
        self.problem(path, node.start_mark.line + 1, f"标签 !!{tag.removeprefix(_CORE)} 与内容不符", "删除这个标签")
        return True

    def _mapping(self, node: MappingNode, path: KeyPath, tag: str) -> dict | None:
        if self._wrong_kind(node, path, tag, "map"):
            return None
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self.problem(path, line, "键必须是一段简单的文字", "把键写成普通文字,例如 name:", flag=False)
                continue
            key = key_node.value  # keys are always text: `no:` or `2024:` stay as written
            if key == "<<" and key_node.style is None:
                self.problem(path, line, "不支持 YAML 合并键 <<", "直接写出各个键,或用 extends 继承其他文件",
                             flag=False)
                continue
            if key in first_line:
                self.problem(path + (key,), line, f"键 {key} 出现了两次(第 {first_line[key]} 行和第 {line} 行)",
                             "删除或合并其中一处;YAML 只保留后一处,前一处的内容会被悄悄丢掉", flag=False)
            first_line[key] = line
            out[key] = self.convert(value_node, path + (key,), line)
        return out

    def _sequence(self, node: SequenceNode, path: KeyPath, tag: str) -> list | None:
        if self._wrong_kind(node, path, tag, "seq"):
            return None
        return [self.convert(item, path + (i,), item.start_mark.line + 1) for i, item in enumerate(node.value)]

    def _scalar(self, node: ScalarNode, path: KeyPath, line: int, tag: str) -> Any:
        text = node.value
        if tag == _IMPLICIT:
            return self._plain(text, path, line) if node.style is None else text
        kind = tag.removeprefix(_CORE)
        if kind == "str":
            return text
        if kind == "null":
            return None
        if kind == "bool" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "int" and _INT.fullmatch(text):
            return int(text)  # written explicitly as !!int, so 0123 may mean 123
        if kind == "float" and _FLOAT.fullmatch(text):
            return float(text)
        self.problem(path, line, f"'{text}' 不符合标签 !!{kind}", "删除这个标签,或改正内容")
        return text

    def _plain(self, text: str, path: KeyPath, line: int) -> Any:
        """Resolve an unquoted scalar: YAML 1.2 core types plus ISO dates; everything else is text."""
        lowered = text.lower()
        if lowered in ("", "~", "null"):
            return None
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in _NORWAY:
            self.problem(path, line, f"不加引号的 {text} 在部分 YAML 工具里会被读成 true/false",
                         f"文字请加引号写成 '{text}';表示是/否请写 true 或 false")
            return text
        if _LEADING_ZERO.match(text):
            return text
        if _INT.fullmatch(text):
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
        if m := _ISO_DATE.fullmatch(text):
            return self._date(text, m, path, line)
        return text

    def _date(self, text: str, m: re.Match, path: KeyPath, line: int) -> date | str:
        year, month, day = (int(g) for g in m.groups())
        try:
            return date(year, month, day)
        except ValueError:
            pass
        if 1 <= month <= 12:
            days = calendar.monthrange(year, month)[1]
            hint = f"{year} 年 {month} 月只有 {days} 天,请改正日期"
        else:
            hint = "月份应在 01–12 之间,请改正日期"
        self.problem(path, line, f"日期 {text} 不存在", hint)
        return text
