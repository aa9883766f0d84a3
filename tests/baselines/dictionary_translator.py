"""A deterministic dictionary translator for the tests, run as the external command of `translate`.

    python dictionary_translator.py en-zh|zh-en   < one sentence per line   > one translation per line

en-zh: words (split on spaces) are looked up lower-cased and their translations joined without spaces.
zh-en: the longest dictionary entry at each position is taken; words are joined by spaces.
Unknown words and the placeholder SPAN pass through unchanged. A few words break the placeholders on
purpose, so the tests can check that such posts are rejected and counted:
  forget / 忘记: every SPAN of the sentence is dropped;  twice / 两次: the first SPAN is doubled;
  glue / 粘: the first SPAN becomes SPANs.
"""

import sys

EN_ZH = {
    "tom": "汤姆", "mary": "玛丽", "beijing": "北京", "new": "新", "york": "约克", "google": "谷歌",
    "visited": "访问了", "loves": "爱", "today": "今天", "in": "在", "works": "工作", "at": "在", "the": "",
    "olympics": "奥运会", ".": "。", "!": "！", "forget": "忘记", "twice": "两次", "glue": "粘", "and": "和",
}
ZH_EN = {
    "汤姆": "Tom", "玛丽": "Mary", "北京": "Beijing", "上海": "Shanghai", "华为": "Huawei", "张三": "Zhang San",
    "访问了": "visited", "爱": "loves", "今天": "today", "在": "in", "工作": "works", "奥运会": "Olympics",
    "。": ".", "！": "!", "忘记": "forget", "两次": "twice", "粘": "glue", "和": "and", "我": "I", "去": "went to",
}


def zh_words(line):
    words, position = [], 0
    longest = max(map(len, ZH_EN))
    while position < len(line):
        if line.startswith("SPAN", position):
            words.append("SPAN")
            position += 4
            continue
        if line[position].isspace():
            position += 1
            continue
        for size in range(longest, 0, -1):
            piece = line[position : position + size]
            if piece in ZH_EN:
                words.append(ZH_EN[piece])
                position += size
                break
        else:
            words.append(line[position])
            position += 1
    return words


def translate(line, direction):
    if direction == "en-zh":
        words = [EN_ZH.get(word.lower(), word) for word in line.split(" ") if word]
        text = "".join(words)
        triggers = ("忘记", "两次", "粘")
    else:
        words = zh_words(line)
        text = " ".join(words)
        triggers = ("forget", "twice", "glue")
    if triggers[0] in text:
        text = text.replace("SPAN", "")
    if triggers[1] in text:
        text = text.replace("SPAN", "SPAN SPAN", 1)
    if triggers[2] in text:
        text = text.replace("SPAN", "SPANs", 1)
    return text


def main():
    direction = sys.argv[1]
    data = sys.stdin.buffer.read().decode("utf-8")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sys.stdout.buffer.write("".join(translate(line, direction) + "\n" for line in lines).encode("utf-8"))


if __name__ == "__main__":
    main()
