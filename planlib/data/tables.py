"""The canonical tables of docs/CONTRACTS.md and the export headers that map onto them.

Each canonical column is declared once: its kind (how values are parsed), whether a file must
have it, and the headers CRM exports commonly use for it (Chinese first, then English). A
plan's ``columns:`` mapping (source header → canonical name) wins over these defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "text", "date", "money", "int", "bool"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    aliases: tuple[str, ...] = ()
    low: int = 0  # range of an "int" column
    high: int = 0


_CUSTOMER_ID = ("客户编号", "客户id", "客户代码", "客户号", "会员编号", "会员id", "会员号", "会员卡号",
                "用户id", "用户编号", "customer_id", "customerid", "cust_id", "client_id", "member_id")

TABLES: dict[str, tuple[Column, ...]] = {
    "customers": (
        Column("customer_id", "id", True, _CUSTOMER_ID),
        Column("name", "text", aliases=("客户名称", "客户姓名", "姓名", "名称", "会员姓名", "联系人", "name",
                                       "customer_name")),
        Column("phone", "text", aliases=("手机号", "手机", "手机号码", "电话", "联系电话", "电话号码", "移动电话",
                                        "phone", "mobile", "tel", "phone_number")),
        Column("region", "text", aliases=("地区", "区域", "所在地区", "所属区域", "省份", "城市", "region",
                                         "province", "city", "area")),
        Column("join_date", "date", aliases=("注册日期", "注册时间", "入会日期", "入会时间", "加入日期",
                                            "开户日期", "join_date", "signup_date", "registered_at")),
    ),
    "transactions": (
        Column("order_id", "id", aliases=("订单编号", "订单号", "订单id", "交易编号", "交易号", "流水号", "单号",
                                         "order_id", "order_no", "transaction_id")),
        Column("customer_id", "id", True, _CUSTOMER_ID),
        Column("order_date", "date", True, ("下单日期", "订单日期", "交易日期", "下单时间", "交易时间", "消费日期",
                                            "购买日期", "日期", "order_date", "order_time", "date")),
        Column("amount", "money", True, ("消费金额", "订单金额", "金额", "交易金额", "实付金额", "支付金额",
                                         "实收金额", "销售额", "amount", "order_amount", "total")),
    ),
    "interactions": (
        Column("customer_id", "id", True, _CUSTOMER_ID),
        Column("campaign", "text", True, ("活动代码", "活动编号", "活动", "营销活动", "campaign", "campaign_id",
                                          "campaign_code")),
        Column("channel", "text", True, ("渠道", "渠道代码", "触达渠道", "channel")),
        Column("variant", "text", aliases=("版本", "实验组", "ab组", "variant", "version", "ab_group")),
        Column("sent_at", "date", True, ("发送时间", "推送时间", "触达时间", "sent_at", "send_time")),
        Column("opened_at", "date", aliases=("打开时间", "阅读时间", "已读时间", "opened_at", "open_time")),
        Column("clicked_at", "date", aliases=("点击时间", "互动时间", "clicked_at", "click_time")),
        Column("responded_at", "date", aliases=("响应时间", "参与时间", "回复时间", "报名时间", "responded_at",
                                               "response_time")),
    ),
    "surveys": (
        Column("customer_id", "id", True, _CUSTOMER_ID),
        Column("survey_date", "date", True, ("调查日期", "调研日期", "问卷日期", "填写日期", "提交时间", "日期",
                                             "survey_date", "date")),
        Column("nps", "int", aliases=("nps", "nps评分", "推荐意愿", "推荐分", "净推荐值"), low=0, high=10),
        Column("csat", "int", aliases=("csat", "满意度", "满意度评分", "满意度得分"), low=1, high=5),
        Column("comment", "text", aliases=("评价", "意见", "评论", "反馈", "备注", "comment", "comments",
                                          "feedback")),
    ),
    "tickets": (
        Column("ticket_id", "id", aliases=("工单编号", "工单号", "工单id", "ticket_id", "ticket_no")),
        Column("customer_id", "id", True, _CUSTOMER_ID),
        Column("created_at", "date", True, ("创建时间", "提交时间", "受理时间", "created_at", "open_time")),
        Column("first_response_at", "date", aliases=("首次响应时间", "首响时间", "首次回复时间",
                                                    "first_response_at")),
        Column("resolved_at", "date", aliases=("解决时间", "关闭时间", "完成时间", "resolved_at", "closed_at")),
        Column("is_complaint", "bool", aliases=("是否投诉", "投诉", "投诉标记", "is_complaint", "complaint")),
    ),
}

# Text columns whose empty cells mean "none" rather than "unknown" (docs/CONTRACTS.md).
EMPTY_AS_BLANK = frozenset({"variant", "comment"})
# Text columns of digits that Excel may have turned into numbers (besides the "id" columns).
DIGIT_CODES = frozenset({"phone"})

_BRACKETS = str.maketrans("\uff08\uff09\u3010\u3011", "()[]")  # full-width （）【】
_UNIT = re.compile(r"[(\[][^)\]]*[)\]]$")


def normalise_header(header: object) -> str:
    """Header text for matching: no BOM, spaces, ``*`` marks or trailing unit such as ``(元)``."""
    text = str(header).replace("\ufeff", "").strip().translate(_BRACKETS)
    text = _UNIT.sub("", re.sub(r"[\s*]", "", text))
    return text.lower()


def match_headers(table: str, headers: list[str], mapping: dict[str, str]) -> dict[int, str]:
    """Position of each recognised header → its canonical column (the plan's mapping first)."""
    columns = {c.name: c for c in TABLES[table]}
    wanted = {normalise_header(k): v for k, v in mapping.items()}
    found: dict[int, str] = {}
    for i, header in enumerate(headers):
        target = wanted.get(normalise_header(header))
        if target in columns and target not in found.values():
            found[i] = target
    for i, header in enumerate(headers):
        if i in found:
            continue
        key = normalise_header(header)
        for column in columns.values():
            if column.name not in found.values() and key in column.aliases:
                found[i] = column.name
                break
    return found


def required(table: str) -> list[str]:
    return [c.name for c in TABLES[table] if c.required]
