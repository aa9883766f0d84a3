"""Generate the bundled demo corpus: synthetic Weibo-style posts (never real posts) and small images.

Writes cmner_build/sample/sample.txt (CMNER release format, gold tags), sample_topics.json and
images/{post_id}_{n}.jpg. Deterministic: re-running rewrites identical files.

    python scripts/make_sample.py
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "cmner_build" / "sample"

PER = ["张伟", "李娜", "王磊", "刘洋", "陈静", "杨帆", "赵敏", "孙浩", "周婷", "吴凯", "郑爽", "黄晓明"]
LOC = ["北京", "上海", "杭州", "成都", "西安", "广州", "三亚", "丽江", "青岛", "桂林", "厦门", "重庆"]
ORG = ["北京国安", "上海申花", "广州恒大", "华为", "小米", "腾讯", "阿里巴巴", "中央电视台", "浙江大学", "故宫博物院"]
MISC = ["中超联赛", "全运会", "马拉松", "Mate60", "鸿蒙系统", "微信", "冰雪节", "国庆黄金周", "双十一", "奥运会"]

TEMPLATES = {
    "体育": [
        "{PER}在{LOC}举行的{MISC}中帮助{ORG}以3比1战胜对手。",
        "赛后{PER}表示，{ORG}的年轻球员表现得非常出色！",
        "{ORG}主教练{PER}宣布，球队下周将前往{LOC}备战{MISC}。",
        "今天的比赛太精彩了，{PER}最后时刻的进球让全场沸腾。",
        "{MISC}第二轮，{ORG}客场挑战对手，{PER}首发出场。",
    ],
    "旅游": [
        "周末去了{LOC}，在{ORG}附近逛了一整天，风景太美了。",
        "{LOC}的{MISC}今年特别热闹，推荐大家去看看！",
        "跟着导游{PER}走遍了{LOC}的老街，吃到了地道的小吃。",
        "{MISC}期间{LOC}游客很多，记得提前预约{ORG}的门票。",
        "从{LOC}坐高铁到{LOC}只要两个小时，非常方便。",
    ],
    "科技": [
        "{ORG}今天发布了{MISC}，{PER}在发布会上介绍了新功能。",
        "{PER}表示，{ORG}将在{LOC}建设新的研发中心。",
        "{MISC}的新版本上线了，体验之后感觉流畅了很多。",
        "{ORG}和{ORG}在{LOC}签署了合作协议，共同推进人工智能研究。",
        "据{ORG}消息，{MISC}用户数已经突破十亿。",
    ],
}

POSTS_PER_TOPIC = 20
IMAGE_SIZES = [(200, 150), (160, 160), (240, 180), (180, 240)]


def fill(template: str, rng: random.Random) -> tuple[str, list[str]]:
    """Fill the slots; returns the text and its per-character tags."""
    text = ""
    tags: list[str] = []
    rest = template
    pools = {"PER": PER, "LOC": LOC, "ORG": ORG, "MISC": MISC}
    while "{" in rest:
        before, _, after = rest.partition("{")
        label, _, rest = after.partition("}")
        text += before
        tags += ["O"] * len(before)
        entity = rng.choice(pools[label])
        text += entity
        tags += [f"B-{label}"] + [f"I-{label}"] * (len(entity) - 1)
    text += rest
    tags += ["O"] * len(rest)
    return text, tags


def post_id(rng: random.Random) -> str:
    # Nine base62 characters, the shape of CMNER's WIDs, prefixed with Z so no real id collides.
    return "Z" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(8))


def make_image(path: Path, rng: random.Random) -> None:
    width, height = rng.choice(IMAGE_SIZES)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(40, 220) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(3, 7)):
        x0, y0 = rng.randrange(0, width - 20), rng.randrange(0, height - 20)
        x1, y1 = rng.randrange(x0 + 10, width), rng.randrange(y0 + 10, height)
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    image.save(path, "JPEG", quality=80)


def main() -> None:
    rng = random.Random(20240221)
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    for old in (OUT / "images").glob("*.jpg"):
        old.unlink()
    blocks: list[str] = []
    topics: dict[str, str] = {}
    for topic, templates in TEMPLATES.items():
        for _ in range(POSTS_PER_TOPIC):
            pid = post_id(rng)
            text, tags = "", []
            for template in rng.sample(templates, rng.randrange(2, 5)):
                piece, piece_tags = fill(template, rng)
                text += piece
                tags += piece_tags
            hashtag = f"#{topic}#"
            text += hashtag
            tags += ["O"] * len(hashtag)
            topics[pid] = topic
            blocks.append("\r\n".join([f"WID:{pid}"] + [f"{c}\t{t}" for c, t in zip(text, tags)]) + "\r\n")
            for n in range(rng.randrange(1, 5)):
                make_image(OUT / "images" / f"{pid}_{n}.jpg", rng)
    (OUT / "sample.txt").write_bytes("\r\n".join(blocks).encode("utf-8"))
    (OUT / "sample_topics.json").write_text(json.dumps(topics, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
