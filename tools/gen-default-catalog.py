#!/usr/bin/python3
"""Generate deploy/catalog/default.json, the default whistle catalog.

The default district is shaped like the seed article's 安庆市迎江区: 3 乡 and
6 街道, 33 社区, 384 网格 (each 1 网格长 + 3 网格员 and about 300 households, 一格一账本),
33 吹哨报到 matters split over 快捷哨 / 应急哨 / 攻坚哨, and 54 社区事务准入 items.

Unit names are the real 迎江区 divisions. Community names, the number of grids
per community and all person names are illustrative (plausible, not real
data), and so are the households per grid (240..360). Person names are drawn
from fixed lists by a fixed LCG, households by a second one (so adding them left
every name as it was): the output is byte-for-byte reproducible. Python 3 standard library only.

Usage: /usr/bin/python3 tools/gen-default-catalog.py [OUTPUT]
       (default OUTPUT: deploy/catalog/default.json next to this tools/ dir)
"""

import json
import os
import re
import sys

MIN = 60 * 1000
HOUR = 60 * MIN
DAY = 24 * HOUR

WHISTLES = {
    "QUICK": {"name": "快捷哨", "checkin_ms": 2 * HOUR, "resolve_ms": 3 * DAY},
    "EMERGENCY": {"name": "应急哨", "checkin_ms": 30 * MIN, "resolve_ms": 24 * HOUR},
    "TOUGH": {"name": "攻坚哨", "checkin_ms": 24 * HOUR, "resolve_ms": 15 * DAY},
}
VERIFICATION_WINDOW_MS = 7 * DAY
ESCALATION = [{"step": "remind"}, {"step": "supervise"}, {"step": "raise"}]

# (code, name, kind, [(community name, grid count), ...])
UNITS = [
    ("xinzhou", "新洲乡", "township", [("新洲社区", 8), ("洲头社区", 9)]),
    ("changfeng", "长风乡", "township", [("长风社区", 8), ("港湾社区", 10)]),
    ("longshiqiao", "龙狮桥乡", "township", [("龙狮社区", 9), ("合兴社区", 8)]),
    ("yichenglu", "宜城路街道", "street",
     [("宜城社区", 12), ("双井社区", 13), ("锡麟社区", 11), ("倒扒狮社区", 14), ("任家坡社区", 12)]),
    ("xinhelu", "新河路街道", "street",
     [("新河社区", 13), ("紫竹林社区", 12), ("新民社区", 15), ("绿地社区", 11), ("华茂社区", 12)]),
    ("huazhonglu", "华中路街道", "street",
     [("华中社区", 14), ("枞阳门社区", 12), ("东门社区", 13), ("湖心社区", 11), ("人和社区", 16)]),
    ("renminlu", "人民路街道", "street",
     [("墨子巷社区", 12), ("龙山社区", 13), ("迎江寺社区", 11), ("振风社区", 12)]),
    ("xiaosulu", "孝肃路街道", "street",
     [("孝肃社区", 11), ("大南门社区", 12), ("光明社区", 13), ("沿江社区", 14)]),
    ("binjiang", "滨江街道", "street",
     [("渡江社区", 12), ("滨江社区", 11), ("皖江社区", 10), ("江景社区", 10)]),
]

DEPARTMENTS = [
    ("cg", "区城管局"),
    ("scjg", "区市场监管局"),
    ("yjgl", "区应急管理局"),
    ("zj", "区住建局"),
    ("sthj", "区生态环境分局"),
    ("wj", "区卫健委"),
    ("ga", "区公安分局"),
    ("xf", "区消防救援大队"),
    ("mz", "区民政局"),
    ("rs", "区人社局"),
    ("jt", "区交通运输局"),
    ("sl", "区水利局"),
    ("zrzy", "区自然资源分局"),
    ("jyty", "区教体局"),
    ("xinfang", "区信访局"),
    ("sf", "区司法局"),
    ("zfw", "区委政法委"),
    ("dcs", "区政府督查室"),
]
DISTRICT_COORDINATORS = ["zfw", "dcs"]

# (name, whistle, departments); codes m01.. in this order.
MATTERS = [
    ("占道经营", "QUICK", ["cg", "scjg"]),
    ("油烟扰民", "QUICK", ["cg", "sthj"]),
    ("噪声扰民", "QUICK", ["ga", "sthj", "cg"]),
    ("垃圾清运不及时", "QUICK", ["cg"]),
    ("井盖缺失破损", "QUICK", ["cg", "zj"]),
    ("路灯损坏", "QUICK", ["cg"]),
    ("食品安全投诉", "QUICK", ["scjg"]),
    ("物业纠纷", "QUICK", ["zj", "sf"]),
    ("消防通道堵塞", "QUICK", ["xf", "ga", "cg"]),
    ("私搭乱接电线", "QUICK", ["xf", "yjgl"]),
    ("乱贴乱画小广告", "QUICK", ["cg"]),
    ("机动车乱停放", "QUICK", ["ga", "cg"]),
    ("绿化损毁", "QUICK", ["cg"]),
    ("市政道路破损", "QUICK", ["zj", "cg"]),
    ("流浪乞讨人员救助", "QUICK", ["mz", "ga"]),
    ("犬只扰民", "QUICK", ["ga", "cg"]),
    ("建筑垃圾乱倾倒", "QUICK", ["cg", "zj"]),
    ("邻里矛盾纠纷", "QUICK", ["sf", "ga"]),
    ("燃气泄漏", "EMERGENCY", ["yjgl", "xf", "zj"]),
    ("危房险情", "EMERGENCY", ["zj", "yjgl"]),
    ("内涝积水", "EMERGENCY", ["sl", "cg", "yjgl"]),
    ("电梯困人", "EMERGENCY", ["scjg", "xf"]),
    ("供水管道爆裂", "EMERGENCY", ["zj", "cg"]),
    ("集体性食物中毒", "EMERGENCY", ["wj", "scjg", "ga"]),
    ("防汛堤防险情", "EMERGENCY", ["sl", "yjgl", "zrzy"]),
    ("高空坠物险情", "EMERGENCY", ["zj", "xf", "yjgl"]),
    ("违章搭建", "TOUGH", ["cg", "zrzy", "zj"]),
    ("违法排污", "TOUGH", ["sthj", "scjg", "ga"]),
    ("非法采砂", "TOUGH", ["sl", "ga", "zrzy", "jt"]),
    ("群租房安全隐患", "TOUGH", ["ga", "xf", "zj", "cg"]),
    ("拖欠农民工工资", "TOUGH", ["rs", "zj", "ga"]),
    ("信访积案化解", "TOUGH", ["xinfang", "sf", "ga"]),
    ("违法占用耕地", "TOUGH", ["zrzy", "cg", "ga"]),
]

# Matters the community itself leads (mediation at the doorstep); the rest are led by the
# township or street of the grid, the "1" of 1+N.
COMMUNITY_LED = {"物业纠纷", "邻里矛盾纠纷"}

# 社区工作事项准入清单; codes a01.. in this order.
COMMUNITY_AFFAIRS = [
    "居民信息登记",
    "低保申请初审",
    "特困人员供养申请受理",
    "临时救助申请受理",
    "高龄津贴申领受理",
    "计划生育服务",
    "计划生育家庭特别扶助申请受理",
    "退役军人服务",
    "优抚对象信息采集",
    "残疾人证办理协助",
    "残疾人两项补贴申请受理",
    "社区矫正协助",
    "安置帮教协助",
    "人口普查协助",
    "流动人口登记",
    "出租房屋信息登记",
    "城乡居民养老保险参保登记",
    "城乡居民医疗保险参保登记",
    "就业失业登记",
    "就业困难人员认定初审",
    "老年人优待证办理协助",
    "居家养老服务",
    "困境儿童摸底排查",
    "孤儿基本生活保障申请受理",
    "公共租赁住房申请受理",
    "法律援助申请协助",
    "人民调解",
    "普法宣传",
    "禁毒宣传",
    "反邪教宣传",
    "平安建设网格巡查",
    "社区消防安全巡查",
    "防汛防灾应急协助",
    "环境卫生整治",
    "爱国卫生运动",
    "垃圾分类宣传引导",
    "健康教育和传染病防控协助",
    "预防接种宣传通知",
    "文明创建",
    "志愿服务组织",
    "社区文化体育活动",
    "居民委员会选举",
    "居务公开",
    "居民议事协商",
    "业主委员会组建指导",
    "物业服务监督协助",
    "双拥工作",
    "兵役登记协助",
    "统计调查协助",
    "民族宗教事务协助",
    "关心下一代工作",
    "妇女儿童权益维护",
    "信用信息采集协助",
    "慈善捐赠组织",
]

# 驻区单位: units stationed in the district, members of streets' 大工委 and communities' 大党委
# (illustrative); each joins the 大工委 of the street or township given and the 大党委 of
# two of its communities. (code, name, unit code)
STATIONED = [
    ("gdgs-xz", "国网迎江供电公司新洲供电所", "xinzhou"),
    ("yh-cf", "建设银行长风支行", "changfeng"),
    ("xx-lsq", "龙狮桥中心学校", "longshiqiao"),
    ("yy-ycl", "市第一人民医院", "yichenglu"),
    ("gs-ycl", "市自来水公司", "yichenglu"),
    ("yh-xhl", "工商银行新河路支行", "xinhelu"),
    ("yz-xhl", "新河路邮政支局", "xinhelu"),
    ("dx-hzl", "电信迎江分公司", "huazhonglu"),
    ("zx-hzl", "市第二中学", "huazhonglu"),
    ("rq-rml", "港华燃气公司", "renminlu"),
    ("sc-rml", "人民路商场", "renminlu"),
    ("gd-xsl", "国网安庆供电公司", "xiaosulu"),
    ("yh-xsl", "农业银行孝肃路支行", "xiaosulu"),
    ("gk-bj", "安庆港务集团", "binjiang"),
    ("wy-bj", "滨江物业服务公司", "binjiang"),
]
VOLUNTEERS_PER_COMMUNITY = 3  # 党员志愿者, codes <community>-v1..

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹"
    "彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢汪方江储檀查葛"
)
GIVEN_1 = "志建国晓文海春秋明丽玉金永红立德佳雨思家俊子梦婷宏"
GIVEN_2 = "华平强军芳英敏杰静霞涛伟明娟波勇琴燕峰辉兰萍超磊雪梅"


class Lcg:
    """Tiny fixed LCG (Numerical Recipes constants); stable across Pythons."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFF

    def below(self, n):
        self.state = (1664525 * self.state + 1013904223) & 0xFFFFFFFF
        return (self.state >> 8) % n


def person_name(rng):
    surname = SURNAMES[rng.below(len(SURNAMES))]
    if rng.below(5) == 0:  # about one in five has a one-character given name
        return surname + GIVEN_2[rng.below(len(GIVEN_2))]
    return surname + GIVEN_1[rng.below(len(GIVEN_1))] + GIVEN_2[rng.below(len(GIVEN_2))]


def build():
    rng = Lcg(20221116)
    households = Lcg(300)  # its own sequence: the names above do not move
    used_names = set()  # keep every name distinct across the whole district

    def fresh_name():
        while True:
            name = person_name(rng)
            if name not in used_names:
                used_names.add(name)
                return name

    units, communities, grids = [], [], []
    grid_no = 0
    for ucode, uname, kind, comms in UNITS:
        units.append({"code": ucode, "name": uname, "kind": kind})
        for i, (cname, ngrids) in enumerate(comms, 1):
            ccode = "%s-%02d" % (ucode, i)
            communities.append({"code": ccode, "name": cname, "unit": ucode})
            for _ in range(ngrids):
                grid_no += 1
                grids.append({
                    "code": "g%03d" % grid_no,
                    "community": ccode,
                    "households": 240 + households.below(121),
                    "leader": fresh_name(),
                    "workers": [fresh_name(), fresh_name(), fresh_name()],
                })

    # after every grid name, from its own sequence: the names above do not move
    vrng = Lcg(1800)
    volunteers = []
    for comm in communities:
        for k in range(1, VOLUNTEERS_PER_COMMUNITY + 1):
            while True:
                name = person_name(vrng)
                if name not in used_names:
                    used_names.add(name)
                    break
            volunteers.append({"code": "%s-v%d" % (comm["code"], k), "name": name,
                               "community": comm["code"]})
    stationed = []
    for code, name, unit in STATIONED:
        mine = [c["code"] for c in communities if c["unit"] == unit]
        stationed.append({"code": code, "name": name, "streets": [unit],
                          "communities": mine[:2]})

    return {
        "version": 1,
        "district": {"code": "yingjiang", "name": "迎江区"},
        "whistles": WHISTLES,
        "verification_window_ms": VERIFICATION_WINDOW_MS,
        "escalation": ESCALATION,
        "units": units,
        "communities": communities,
        "grids": grids,
        "departments": [{"code": c, "name": n} for c, n in DEPARTMENTS],
        "district_coordinators": DISTRICT_COORDINATORS,
        "matters": [
            {"code": "m%02d" % i, "name": n, "whistle": w,
             "lead": "community" if n in COMMUNITY_LED else "unit", "departments": d}
            for i, (n, w, d) in enumerate(MATTERS, 1)
        ],
        "community_affairs": [
            {"code": "a%02d" % i, "name": n} for i, n in enumerate(COMMUNITY_AFFAIRS, 1)
        ],
        "stationed": stationed,
        "volunteers": volunteers,
    }


CODE_RE = re.compile(r"^[a-z0-9-]{1,32}$")


def check(cat):
    units = cat["units"]
    assert len(units) == 9
    assert sum(u["kind"] == "township" for u in units) == 3
    assert sum(u["kind"] == "street" for u in units) == 6
    assert len(cat["communities"]) == 33
    assert len(cat["grids"]) == 384
    assert len(cat["matters"]) == 33
    assert len(cat["community_affairs"]) == 54
    assert len(cat["volunteers"]) == VOLUNTEERS_PER_COMMUNITY * len(cat["communities"])
    assert {u["code"] for u in units} == {s["streets"][0] for s in cat["stationed"]}
    assignees = [x["code"] for k in ("departments", "communities", "stationed", "volunteers")
                 for x in cat[k]]
    assert len(assignees) == len(set(assignees)), "a code names one assignee"
    for key in ("units", "communities", "grids", "departments", "matters", "community_affairs",
                "stationed", "volunteers"):
        codes = [x["code"] for x in cat[key]]
        assert len(codes) == len(set(codes)), key
        assert all(CODE_RE.match(c) for c in codes), key
    unit_codes = {u["code"] for u in units}
    comm_codes = {c["code"] for c in cat["communities"]}
    dept_codes = {d["code"] for d in cat["departments"]}
    assert all(c["unit"] in unit_codes for c in cat["communities"])
    for comm in comm_codes:
        n = sum(g["community"] == comm for g in cat["grids"])
        assert 8 <= n <= 16, (comm, n)
    for g in cat["grids"]:
        names = [g["leader"]] + g["workers"]
        assert len(g["workers"]) == 3 and len(set(names)) == 4, g
        assert 240 <= g["households"] <= 360, g
    assert set(cat["district_coordinators"]) <= dept_codes
    for m in cat["matters"]:
        assert m["whistle"] in cat["whistles"], m
        assert 1 <= len(m["departments"]) <= 4, m
        assert len(set(m["departments"])) == len(m["departments"]), m
        assert set(m["departments"]) <= dept_codes, m


def dump(value):
    """indent-2 JSON, but each object inside a list (and each whistle) on one line."""
    def one(v):
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))

    lines = ["{"]
    items = list(value.items())
    for i, (key, v) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append("  %s: [" % one(key))
            for j, x in enumerate(v):
                lines.append("    %s%s" % (one(x), "," if j < len(v) - 1 else ""))
            lines.append("  ]" + comma)
        elif isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()):
            lines.append("  %s: {" % one(key))
            sub = list(v.items())
            for j, (k, x) in enumerate(sub):
                lines.append("    %s: %s%s" % (one(k), one(x), "," if j < len(sub) - 1 else ""))
            lines.append("  }" + comma)
        else:
            lines.append("  %s: %s%s" % (one(key), one(v), comma))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "deploy", "catalog", "default.json")
    cat = build()
    check(cat)
    text = dump(cat)
    assert json.loads(text) == cat
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
