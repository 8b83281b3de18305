"""Word lists of the lexicon sentiment (Chinese and English) and the emotion cues.

Small, hand-written and banking-flavoured: what a customer writes to a bank's assistant when something
went well or wrong. Weights are in -1 .. 1 (negative words < 0); negation words flip the next cue.
"""

from __future__ import annotations

ZH_POSITIVE: dict[str, float] = {
    "谢谢": 0.6, "感谢": 0.7, "多谢": 0.6, "好的": 0.3, "很好": 0.8, "不错": 0.6, "满意": 0.8, "喜欢": 0.6,
    "方便": 0.5, "快捷": 0.5, "及时": 0.4, "专业": 0.5, "耐心": 0.5, "热情": 0.5, "周到": 0.5, "靠谱": 0.6,
    "太好了": 0.9, "棒": 0.7, "赞": 0.6, "优秀": 0.7, "开心": 0.8, "高兴": 0.8, "舒服": 0.5, "顺利": 0.5,
    "解决了": 0.6, "好评": 0.8, "给力": 0.7, "完美": 0.8, "划算": 0.5, "实惠": 0.5, "推荐": 0.5, "清楚": 0.3,
    "好用": 0.6, "值得": 0.5, "放心": 0.5, "幸福": 0.7, "感激": 0.7, "成功": 0.4,
}
ZH_NEGATIVE: dict[str, float] = {
    "差": -0.6, "很差": -0.9, "太差": -0.9, "垃圾": -1.0, "糟糕": -0.8, "失望": -0.8, "不满": -0.8, "投诉": -0.7,
    "生气": -0.9, "愤怒": -1.0, "气死": -1.0, "恶心": -0.9, "坑": -0.7, "骗": -0.8, "骗子": -1.0, "欺骗": -0.9,
    "慢": -0.4, "太慢": -0.7, "麻烦": -0.4, "烦": -0.6, "烦死": -0.9, "难用": -0.7, "不好": -0.6, "不行": -0.5,
    "错误": -0.4, "失败": -0.5, "扣错": -0.7, "乱扣": -0.9, "被盗": -0.8, "盗刷": -0.9, "丢失": -0.5, "丢了": -0.5,
    "担心": -0.5, "着急": -0.6, "急死": -0.8, "焦虑": -0.6, "害怕": -0.6, "怎么办": -0.3, "紧急": -0.4,
    "难过": -0.7, "伤心": -0.7, "郁闷": -0.6, "无奈": -0.5, "遗憾": -0.5, "可惜": -0.4, "后悔": -0.6,
    "离谱": -0.8, "无语": -0.6, "忽悠": -0.8, "敷衍": -0.8, "态度差": -0.9, "没人管": -0.8, "不靠谱": -0.7,
    "退款": -0.3, "冻结": -0.4, "不能用": -0.6, "用不了": -0.6, "没用": -0.6, "问题": -0.2, "太贵": -0.5,
    "滚": -0.9, "破": -0.5, "坑人": -0.9, "黑心": -0.9, "吐槽": -0.6, "崩溃": -0.8, "受不了": -0.8,
}
EN_POSITIVE: dict[str, float] = {
    "thanks": 0.6, "thank": 0.6, "great": 0.8, "good": 0.5, "excellent": 0.9, "happy": 0.8, "glad": 0.7,
    "love": 0.8, "perfect": 0.9, "awesome": 0.9, "helpful": 0.7, "fast": 0.4, "easy": 0.5, "nice": 0.6,
    "satisfied": 0.8, "amazing": 0.9, "appreciate": 0.7, "wonderful": 0.9, "pleased": 0.7, "solved": 0.6,
    "works": 0.3, "convenient": 0.5, "fantastic": 0.9, "cool": 0.4, "fine": 0.2, "best": 0.7,
}
EN_NEGATIVE: dict[str, float] = {
    "bad": -0.6, "terrible": -0.9, "awful": -0.9, "horrible": -0.9, "worst": -1.0, "hate": -0.9, "angry": -0.9,
    "furious": -1.0, "annoyed": -0.7, "annoying": -0.7, "disappointed": -0.8, "disappointing": -0.8,
    "useless": -0.8, "ridiculous": -0.8, "unacceptable": -0.9, "complaint": -0.7, "complain": -0.7,
    "scam": -1.0, "fraud": -0.6, "stolen": -0.8, "lost": -0.5, "wrong": -0.5, "error": -0.4, "failed": -0.5,
    "fail": -0.5, "slow": -0.4, "problem": -0.3, "issue": -0.2, "broken": -0.6, "stupid": -0.8, "sucks": -0.9,
    "worried": -0.6, "worry": -0.5, "anxious": -0.6, "afraid": -0.6, "scared": -0.6, "urgent": -0.4,
    "help": -0.1, "sad": -0.7, "upset": -0.7, "unhappy": -0.7, "frustrated": -0.8, "frustrating": -0.8,
    "declined": -0.4, "blocked": -0.4, "charged": -0.2, "overcharged": -0.8, "refund": -0.3, "never": -0.2,
    "waste": -0.7, "poor": -0.6, "rude": -0.8, "crap": -0.9, "damn": -0.7, "unfortunately": -0.4,
}
ZH_NEGATIONS = ("不", "没", "没有", "别", "未", "无", "并非", "并不", "不是", "不太", "不怎么")
EN_NEGATIONS = ("not", "no", "never", "don't", "dont", "doesn't", "didn't", "isn't", "wasn't", "can't",
                "cannot", "won't", "hardly")
ZH_INTENSIFIERS = ("非常", "太", "很", "特别", "极其", "超级", "真", "十分", "简直")
EN_INTENSIFIERS = ("very", "really", "so", "extremely", "totally", "absolutely", "super")

# emotion cues (checked in this order: the first emotion with a cue wins over the plain polarity)
EMOTION_CUES: dict[str, tuple[str, ...]] = {
    "angry": ("生气", "愤怒", "气死", "投诉", "垃圾", "骗子", "坑人", "黑心", "滚", "离谱", "态度差", "受不了",
              "什么破", "搞什么", "凭什么", "岂有此理", "angry", "furious", "ridiculous", "unacceptable", "scam",
              "complaint", "complain", "hate", "worst", "stupid", "sucks", "rude", "wtf", "damn", "crap"),
    "anxious": ("着急", "急死", "担心", "焦虑", "害怕", "紧急", "赶紧", "马上", "快点", "怎么办", "被盗", "盗刷",
                "丢了", "丢失", "冻结", "worried", "worry", "anxious", "afraid", "scared", "urgent", "asap",
                "immediately", "stolen", "lost my", "hurry", "quickly"),
    "sad": ("难过", "伤心", "失望", "郁闷", "遗憾", "可惜", "后悔", "无奈", "sad", "upset", "disappointed",
            "unhappy", "unfortunately", "depressed", "sorry to"),
    "happy": ("谢谢", "感谢", "太好了", "开心", "高兴", "满意", "棒", "赞", "完美", "给力", "好评", "thanks",
              "thank you", "great", "happy", "glad", "awesome", "perfect", "love", "appreciate", "wonderful",
              "excellent", "amazing", "fantastic"),
}
