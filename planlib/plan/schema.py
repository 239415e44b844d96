"""The plan schema: one typed description of a quarter's customer-interaction plan.

Every field is declared once here, with its type, Chinese label (``title``), help text
(``description``) and limits. Validation (:mod:`planlib.plan.planfile`), the cross-field checks
(:mod:`planlib.plan.checks`) and the planner forms all follow from these declarations.

Models are strict: a string is never turned into a number or a date behind the planner's back,
and unknown keys are errors. Rates are written in percent (``70`` means 70 %), money in yuan.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from planlib.plan.kpis import CATALOGUE

# ---------------------------------------------------------------------------------- helpers
_COND = re.compile(
    r"^\s*(?:(?P<op><=|>=|<|>|=)\s*(?P<v>\d+(?:\.\d+)?)|(?P<lo>\d+(?:\.\d+)?)\s*[-–~]\s*(?P<hi>\d+(?:\.\d+)?))\s*$"
)


def parse_condition(text: str) -> tuple[float | None, bool, float | None, bool]:
    """Parse a rule such as ``<30``, ``>=5``, ``=1`` or ``2000-5000`` (inclusive range).

    Returns ``(low, low_inclusive, high, high_inclusive)``; ``None`` means unbounded.
    """
    m = _COND.match(text)
    if not m:
        raise ValueError(
            f"条件 {text!r} 无法识别;请写成 <30、<=30、>90、>=5、=1 或 2000-5000 这样的形式"
        )
    if m["lo"] is not None:
        lo, hi = float(m["lo"]), float(m["hi"])
        if lo > hi:
            raise ValueError(f"条件 {text!r} 的下限大于上限;请写成 小值-大值")
        return lo, True, hi, True
    v = float(m["v"])
    return {
        "<": (None, False, v, False),
        "<=": (None, False, v, True),
        ">": (v, False, None, False),
        ">=": (v, True, None, False),
        "=": (v, True, v, True),
    }[m["op"]]


def _check_condition(text: str) -> str:
    parse_condition(text)
    return text


def _check_kpi(kpi_id: str) -> str:
    if kpi_id not in CATALOGUE:
        from difflib import get_close_matches

        close = get_close_matches(kpi_id, CATALOGUE, n=1)
        guess = f"是不是 {close[0]}?" if close else ""
        raise ValueError(f"指标 {kpi_id!r} 不在 KPI 目录中;{guess}可选: {', '.join(CATALOGUE)}")
    return kpi_id


Condition = Annotated[str, AfterValidator(_check_condition)]
KpiId = Annotated[str, AfterValidator(_check_kpi)]
Percent = Annotated[float, Field(ge=0, le=100)]
Money = Annotated[float, Field(ge=0)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=5000)]
Day = date  # for fields named ``date`` (the name would hide the type inside the model)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


# ---------------------------------------------------------------------------------- meta
class DateRange(StrictModel):
    start: date = Field(title="开始日期")
    end: date = Field(title="结束日期")


class Phase(StrictModel):
    name: Name = Field(title="阶段名称", description="例如 预热期 / 执行期 / 复盘期")
    start: date = Field(title="开始日期")
    end: date = Field(title="结束日期")


class Meta(StrictModel):
    unit: str = Field(
        title="单位代码", pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40,
        description="小写英文字母、数字、- 或 _,用作输出目录名,例如 east-retail",
    )
    unit_name: Name = Field(title="单位名称", description="事业部或团队的中文名称")
    quarter: str = Field(title="季度", pattern=r"^[0-9]{4}Q[1-4]$", description="例如 2024Q2")
    title: Name = Field(title="策划书标题")
    owner: Name = Field(title="负责人")
    departments: list[Name] = Field(default_factory=list, title="参与部门")
    currency: Literal["CNY"] = Field(default="CNY", title="币种")
    language: Literal["zh", "en"] = Field(default="zh", title="报告语言")
    period: DateRange = Field(title="计划周期")
    phases: list[Phase] = Field(default_factory=list, title="活动阶段")
    work_phases: list[Name] = Field(
        default_factory=lambda: ["前期准备", "中期执行", "后期跟进"], title="任务阶段",
        description="实施计划中任务所属的阶段名称",
    )
    approval_required: bool = Field(
        default=True, title="需要审批",
        description="是:计划没有 approval 或审批结论为“不通过”时,复盘报告封面注明“本计划尚未审批”;否:不提示",
    )


class Background(StrictModel):
    market: Text = Field(default="", title="市场环境")
    competitors: Text = Field(default="", title="竞争对手")
    internal: Text = Field(default="", title="内部原因")


class Scope(StrictModel):
    segment: Name = Field(title="目标客群", description="segmentation.segments 中定义的客群名称")
    description: Text = Field(default="", title="客群说明")


class Goal(StrictModel):
    id: str = Field(title="编号", pattern=r"^[A-Za-z0-9_-]+$", max_length=20,
                    description="英文字母、数字、- 或 _,例如 G1")
    name: Name = Field(title="目标描述", description="一句话写清楚:对谁、做到什么、何时")
    metric: KpiId = Field(title="衡量指标", description="KPI 目录中的指标代码")
    segment: Name = Field(title="目标客群")
    baseline: float | None = Field(
        default=None, title="基线值", description="留空则由数据计算(计划开始前一个同等时长的窗口)"
    )
    target: float = Field(title="目标值")
    direction: Literal["increase", "decrease"] = Field(title="方向", description="increase 提升 / decrease 降低")
    unit: str | None = Field(default=None, max_length=10, title="单位", description="留空则用 KPI 目录中的单位")
    deadline: date = Field(title="截止日期")
    relevance: Text = Field(default="", title="相关性说明", description="该目标与业务战略的关系(SMART 的 R)")


# ---------------------------------------------------------------------------------- data
Canonical = Literal["customers", "transactions", "interactions", "surveys", "tickets"]


class DataSource(StrictModel):
    path: str = Field(title="文件路径", min_length=1, description="相对于本计划文件所在目录")
    format: Literal["auto", "csv", "xlsx", "parquet"] = Field(default="auto", title="格式")
    encoding: Literal["auto", "utf-8", "utf-8-sig", "gbk", "gb18030", "big5"] = Field(default="auto", title="编码")
    sheet: str | int | None = Field(default=None, title="工作表")
    columns: dict[str, str] = Field(default_factory=dict, title="列名映射", description="文件中的列名 → 标准列名")
    pad_ids: int | None = Field(
        default=None, ge=2, le=40, title="编号补零位数",
        description="纯数字的客户编号左侧补零到这个位数,例如 5:1 → 00001(Excel 去掉了前导零时使用)",
    )


class DemoData(StrictModel):
    seed: int = Field(default=20240401, title="随机种子")
    customers: int = Field(default=5000, ge=100, le=2_000_000, title="客户数")
    style: Literal["crm", "orders_export"] = Field(
        default="crm", title="演示数据形式",
        description="crm:五个整洁的 CSV;orders_export:只有一份商城订单导出(.xlsx,或 GBK 编码的 .csv)",
    )


class Data(StrictModel):
    demo: DemoData | None = Field(default=None, title="演示数据", description="设置后,缺失的数据文件由演示数据生成器创建")
    customers: DataSource | None = Field(
        default=None, title="客户表",
        description="可选;没有客户表时由交易表生成客户名单(每个客户编号一行,姓名/手机号等取交易表中已有的列)",
    )
    transactions: DataSource = Field(title="交易表", description="唯一必需的数据源")
    interactions: DataSource | None = Field(default=None, title="互动记录")
    surveys: DataSource | None = Field(default=None, title="问卷")
    tickets: DataSource | None = Field(default=None, title="服务工单")


# ---------------------------------------------------------------------------------- segmentation
class Rfm(StrictModel):
    as_of: date | None = Field(default=None, title="计算基准日", description="留空则为计划开始日的前一天")
    window_days: int = Field(default=365, ge=30, le=3650, title="统计窗口(天)")
    levels: int = Field(default=5, ge=2, le=10, title="评分等级数")


class TierRule(StrictModel):
    name: Name = Field(title="层级名称")
    recency_days: Condition | None = Field(default=None, title="最近消费(天)", description="例如 <30")
    frequency: Condition | None = Field(default=None, title="消费次数", description="例如 >=5 或 2-4")
    monetary: Condition | None = Field(default=None, title="消费金额(元)", description="例如 >=5000")
    clv: Condition | None = Field(default=None, title="客户终身价值(元)",
                                  description="未来 segmentation.clv.horizon_days 天的预测价值,例如 >=10000")
    p_alive: Condition | None = Field(default=None, title="存活概率(%)", description="仍为活跃客户的概率,例如 <50")
    churn_probability: Condition | None = Field(default=None, title="流失概率(%)",
                                                description="100 − 存活概率,例如 >=60")
    complaints: Condition | None = Field(default=None, title="投诉次数",
                                         description="统计窗口内的投诉工单数(需要 data.tickets),例如 >=1")
    goal: Text = Field(default="", title="互动目标")
    needs: Text = Field(default="", title="核心需求")
    strategy: Text = Field(default="", title="维护策略建议")


class DefaultTier(StrictModel):
    name: Name = Field(default="一般客户", title="层级名称")
    goal: Text = Field(default="", title="互动目标")
    needs: Text = Field(default="", title="核心需求")
    strategy: Text = Field(default="", title="维护策略建议")


class Segment(StrictModel):
    name: Name = Field(title="客群名称")
    tiers: list[Name] = Field(default_factory=list, title="所属层级", description="留空表示不限层级")
    recency_days: Condition | None = Field(default=None, title="最近消费(天)")
    frequency: Condition | None = Field(default=None, title="消费次数")
    monetary: Condition | None = Field(default=None, title="消费金额(元)")
    description: Text = Field(default="", title="说明")


class Clv(StrictModel):
    horizon_days: int = Field(default=365, ge=30, le=3650, title="预测期(天)", description="客户终身价值预测多少天")
    discount_rate: Percent = Field(default=10, title="年折现率(%)")
    model: Literal["auto", "bgnbd", "mbgnbd"] = Field(
        default="auto", title="购买模型",
        description="auto 自动:只购买过一次的客户占一半及以上时用 MBG/NBD,否则用 BG/NBD;"
                    "bgnbd / mbgnbd 固定使用该模型",
    )


class Movement(StrictModel):
    order: list[Name] = Field(default_factory=list, title="层级价值顺序",
                              description="从高到低;留空则按分层规则的顺序(默认层级在最后)")
    at_risk: list[Name] = Field(default_factory=list, title="风险层级", description="从其他层级进入这些层级记为“新增风险”")


class Segmentation(StrictModel):
    rfm: Rfm = Field(default_factory=Rfm, title="RFM 设置")
    clv: Clv = Field(default_factory=Clv, title="客户终身价值(BG/NBD 或 MBG/NBD + Gamma-Gamma)")
    movement: Movement = Field(default_factory=Movement, title="层级变动(与上季度比较)")
    tiers: list[TierRule] = Field(min_length=1, title="分层规则", description="自上而下匹配,命中第一条即归入该层")
    default_tier: DefaultTier = Field(default_factory=DefaultTier, title="未命中任何规则时的层级")
    segments: list[Segment] = Field(default_factory=list, title="目标客群")


# ---------------------------------------------------------------------------------- channels
JourneyStage = Literal["认知", "兴趣", "购买", "使用", "复购", "推荐"]


class TierRates(StrictModel):
    reach_rate: Percent | None = Field(default=None, title="触达率(%)")
    open_rate: Percent | None = Field(default=None, title="打开率(%)")
    response_rate: Percent | None = Field(default=None, title="响应率(%)")


class Channel(StrictModel):
    id: str = Field(title="渠道代码", pattern=r"^[a-z0-9_]+$", max_length=30,
                    description="小写英文字母、数字或 _,例如 sms")
    name: Name = Field(title="渠道名称")
    cost_per_contact: Money = Field(title="单次触达成本(元)")
    fixed_cost: Money = Field(default=0, title="固定成本(元)")
    reach_rate: Percent = Field(title="触达率(%)")
    open_rate: Percent = Field(title="打开率(%)")
    response_rate: Percent = Field(title="响应率(%)", description="打开后参与/回复的比例")
    tier_rates: dict[str, TierRates] = Field(
        default_factory=dict, title="分层效果参数",
        description="层级名称 → 该层级的触达/打开/响应率;未写的项沿用渠道默认值。有历史互动数据时以数据估计为准",
    )
    journey: list[JourneyStage] = Field(default_factory=list, title="客户旅程阶段",
                                        description="该渠道通常服务的阶段:认知/兴趣/购买/使用/复购/推荐")


class ChannelPlanRow(StrictModel):
    audience: Name = Field(title="对象", description="层级或目标客群名称")
    channel: str = Field(title="渠道代码")
    content: Text = Field(default="", title="内容")
    frequency: str = Field(default="", max_length=50, title="频次说明", description="例如 每周1次")
    contacts_per_customer: float = Field(ge=0, le=100, title="每客户触达次数(整个周期)")
    coverage: Percent = Field(default=100, title="覆盖比例(%)", description="该对象中被触达客户的比例")
    journey: list[JourneyStage] = Field(default_factory=list, title="旅程阶段", description="留空则用渠道目录中的旅程阶段")


class ChannelRule(StrictModel):
    audience: Name = Field(title="对象", description="层级或目标客群名称")
    allowed: list[str] = Field(default_factory=list, title="可用渠道", description="渠道代码;留空表示目录中的渠道都可用")
    preferred: list[str] = Field(default_factory=list, title="优先渠道", description="预计效果相同时,优化器优先选用这些渠道")
    min_coverage: Percent | None = Field(default=None, title="最低覆盖比例(%)",
                                         description="至少触达该对象中多少比例的客户,例如目标客群 90")
    max_contacts: float | None = Field(default=None, ge=0, le=100, title="每客户触达上限(次)",
                                       description="整个周期内所有渠道合计,防止过度打扰")


class RateEstimate(StrictModel):
    enabled: bool = Field(default=True, title="用历史互动估计渠道效果")
    lookback_days: int = Field(default=365, ge=7, le=3650, title="回看天数", description="用计划开始前这么多天内的互动记录")
    min_messages: int = Field(default=100, ge=1, le=1_000_000, title="最少样本(条)", description="样本少于此数时沿用计划值")
    broadcast_campaigns: list[str] = Field(
        default_factory=list, title="全量推送活动",
        description="发给渠道全部可触达客户的活动代码(如 newsletter),用其覆盖人数估计触达率",
    )


class Optimizer(StrictModel):
    enabled: bool = Field(default=True, title="计算优化渠道组合")
    objective: Literal["auto", "responses", "value"] = Field(
        default="auto", title="优化目标",
        description="responses 预计响应人数 / value 按客户终身价值加权;auto 有 CLV 时用 value",
    )
    frequency_levels: list[Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=lambda: [1, 2, 4, 8], min_length=1, title="可选触达次数", description="每客户整个周期的触达次数选项")
    budget: Money | None = Field(default=None, title="渠道预算(元)", description="留空则为 预算上限 − 其他预算明细")
    value_share: Percent = Field(
        default=10, title="响应的增量价值(% CLV)",
        description="按价值优化时,一位客户响应带来的增量价值占其终身价值 CLV 的比例(计划假设)",
    )
    extra_budget: Money | None = Field(
        default=None, title="追加预算测算(元)",
        description="「再增加多少预算能多换来多少响应」中的追加金额;留空则取渠道预算的 10%(取整到 1/2/5 开头的整数)",
    )


class Channels(StrictModel):
    catalogue: list[Channel] = Field(min_length=1, title="渠道目录")
    plan: list[ChannelPlanRow] = Field(default_factory=list, title="分层渠道计划")
    contact_caps: dict[str, Percent] = Field(
        default_factory=dict, title="触达上限(%)", description="层级名称 → 最高触达比例,例如 高价值客户: 70"
    )
    rules: list[ChannelRule] = Field(default_factory=list, title="分层渠道约束")
    estimate: RateEstimate = Field(default_factory=RateEstimate, title="渠道效果估计")
    optimizer: Optimizer = Field(default_factory=Optimizer, title="渠道组合优化")


# ---------------------------------------------------------------------------------- execution
class Task(StrictModel):
    id: str = Field(title="任务编号", pattern=r"^[A-Za-z0-9_-]+$", max_length=20,
                    description="英文字母、数字、- 或 _,例如 T1")
    phase: Name = Field(title="阶段", description="meta.work_phases 中的一个")
    name: Name = Field(title="任务内容")
    owner: Name = Field(title="负责人")
    start: date = Field(title="开始")
    end: date = Field(title="结束")
    depends_on: list[str] = Field(default_factory=list, title="前置任务")
    done_when: Text = Field(default="", title="完成标准")
    resources: Text = Field(default="", title="依赖资源")
    done_on: date | None = Field(default=None, title="实际完成日期", description="完成后填写;中期检查据此判断任务是否逾期")


class Milestone(StrictModel):
    name: Name = Field(title="里程碑")
    due: date = Field(title="日期")


class Checkpoint(StrictModel):
    name: Name = Field(title="检查点", description="例如 首轮邀约后参与率")
    due: date = Field(title="检查日期")
    kpi: KpiId = Field(title="指标")
    threshold: float = Field(title="阈值", description="越高越好的指标低于阈值、越低越好的指标高于阈值即预警")
    action: Text = Field(title="调整措施", description="未达阈值时启动的调整")
    respond_within_hours: int = Field(default=48, ge=1, le=720, title="启动调整时限(小时)")
    owner: Name | None = Field(default=None, title="负责人")


class BudgetLine(StrictModel):
    category: Name = Field(title="预算科目")
    detail: Text = Field(default="", title="明细说明")
    planned: Money = Field(title="预算金额(元)")
    actual: Money | None = Field(default=None, title="实际支出(元)")
    note: Text = Field(default="", title="差异说明")
    channel: str | None = Field(default=None, title="对应渠道", description="推广费对应的渠道代码,用于与渠道计划对账")


class Budget(StrictModel):
    limit: Money = Field(title="预算上限(元)")
    lines: list[BudgetLine] = Field(default_factory=list, title="预算明细")
    channel_categories: list[Name] = Field(
        default_factory=lambda: ["推广费"], title="承担渠道成本的预算科目",
        description="这些科目的预算明细(以及写明对应渠道的明细)用于支付渠道计划的成本,例如 推广费、媒介费",
    )


# ---------------------------------------------------------------------------------- review
class KpiTarget(StrictModel):
    kpi: KpiId = Field(title="指标")
    target: float = Field(title="目标值")
    dimension: str | None = Field(default=None, max_length=50, title="评估维度", description="留空则用目录中的维度")
    actual: float | None = Field(default=None, title="实际值(手工)", description="数据无法计算时手工填写")
    note: Text = Field(default="", title="备注")


class Action(StrictModel):
    problem: Name = Field(title="问题目标")
    measure: Text = Field(title="优化措施")
    owner: Name = Field(title="责任人")
    due: date = Field(title="完成时间")
    expected: Text = Field(default="", title="预期效果")
    status: Literal["open", "done"] = Field(default="open", title="状态")


class CommentTheme(StrictModel):
    name: Name = Field(title="主题", description="复盘诊断中显示的主题名称,例如 价格 / 物流 / 客服")
    keywords: list[Name] = Field(min_length=1, title="关键词", description="低分评价中出现任一关键词即归入该主题")
    advice: Text = Field(title="改进建议", description="该主题在低分评价中被提到最多时给出的建议")


# Defaults name no product, gift or channel of any one unit: a unit adds its own words in its plan.
DEFAULT_COMMENT_THEMES = (
    ("礼品与权益", ("礼品", "赠品", "礼物", "权益", "积分"), "调研客户对礼品与权益的偏好,按偏好调整"),
    ("价格", ("价格偏高", "价格高", "太贵", "偏贵", "优惠力度小"), "复核定价与优惠力度,向价格敏感客户推送专属优惠"),
    ("物流", ("物流", "到货", "发货", "快递", "配送"), "排查物流时效,对延迟订单主动告知并补偿"),
    ("客服", ("客服", "回复太慢", "没人回", "响应慢"), "高峰时段增加客服并设置超时提醒"),
    ("打扰", ("太多了", "打扰", "太频繁", "消息太多"), "降低触达频次,合并提醒"),
    ("规则", ("规则", "复杂", "流程", "麻烦"), "简化活动规则与参与流程"),
    ("质量", ("质量", "瑕疵", "坏了", "破损"), "把质量问题反馈品控,对问题订单补偿"),
)
DEFAULT_PRAISE_WORDS = ("满意", "不错", "很好", "挺好", "喜欢", "推荐", "好用", "实用", "划算", "方便")


class PlannedAbTest(StrictModel):
    name: Name = Field(title="测试名称", description="例如 短信发送时间:活动前一晚 vs 当天上午")
    channel: str = Field(title="渠道代码", description="渠道目录中的代码,例如 sms")
    metric: Literal["open_rate", "response_rate"] = Field(default="response_rate", title="比较指标",
                                                         description="open_rate 打开率 / response_rate 响应率")
    baseline: Percent | None = Field(default=None, title="A 版预计比率(%)",
                                     description="留空则用渠道目录中该渠道的打开率或响应率")
    mde: Annotated[float, Field(gt=0, le=100)] = Field(title="想检测的最小差异(百分点)",
                                                       description="B 版比 A 版至少高出多少个百分点才值得采用,例如 3")
    share_b: Annotated[float, Field(gt=0, lt=100)] = Field(default=50, title="B 版比例(%)",
                                                           description="参与测试的客户中收到 B 版的比例")


class Meeting(StrictModel):
    name: Name = Field(title="会议", description="例如 月度数据复盘 / 活动复盘会")
    date: Day = Field(title="日期")
    owner: Name = Field(title="负责人")
    attendees: Text = Field(default="", title="参会方")


class Review(StrictModel):
    campaign: str = Field(title="活动代码", description="互动记录中 campaign 列的值", min_length=1, max_length=50)
    control_share: Percent = Field(default=20, title="对照组比例(%)", description="目标客群中不触达、用于效果对比的比例")
    attribution_days: int = Field(default=30, ge=1, le=365, title="归因窗口(天)")
    sla_minutes: int = Field(default=5, ge=1, le=10080, title="响应时限(分钟)")
    actions: list[Action] = Field(default_factory=list, title="互动优化行动计划")
    comment_themes: list[CommentTheme] = Field(
        default_factory=lambda: [CommentTheme(name=n, keywords=list(k), advice=a) for n, k, a in DEFAULT_COMMENT_THEMES],
        title="评价主题",
        description="复盘诊断满意度/NPS 未达成时,把低分评价归入这些主题;没有主题达到2条时,改为列出低分评价中出现最多的词",
    )
    praise_words: list[Name] = Field(
        default_factory=lambda: list(DEFAULT_PRAISE_WORDS), title="好评用语",
        description="含这些词的低分评价视为称赞(如“礼品很实用”),不作为低分原因",
    )
    ab_tests: list[PlannedAbTest] = Field(default_factory=list, title="计划的 A/B 测试",
                                          description="策划书按 80% 功效、5% 显著性计算每个测试需要的样本量")
    meetings: list[Meeting] = Field(default_factory=list, title="复盘会议",
                                    description="留空则策划书建议:每月末数据复盘,活动结束后 3 个工作日内召开复盘会")


class Approval(StrictModel):
    reviewer: Name = Field(title="审批人", description="例如 王总")
    role: str = Field(default="", max_length=100, title="职务", description="例如 客户互动委员会主任")
    decision: Literal["通过", "修改后通过", "不通过"] | None = Field(
        default=None, title="审批结论", description="通过 / 修改后通过 / 不通过;留空表示待审批")
    date: Day | None = Field(default=None, title="审批日期")
    comments: Text = Field(default="", title="审批意见")


# ---------------------------------------------------------------------------------- plan
class Plan(StrictModel):
    """A whole quarter's plan for one business unit."""

    meta: Meta = Field(title="计划信息")
    background: Background = Field(default_factory=Background, title="项目背景")
    scope: Scope = Field(title="范围")
    goals: list[Goal] = Field(min_length=1, title="目标")
    data: Data = Field(title="数据来源")
    segmentation: Segmentation = Field(title="客户分层")
    channels: Channels = Field(title="互动渠道")
    tasks: list[Task] = Field(default_factory=list, title="实施计划")
    milestones: list[Milestone] = Field(default_factory=list, title="里程碑")
    checkpoints: list[Checkpoint] = Field(default_factory=list, title="检查点")
    budget: Budget = Field(title="预算")
    kpis: list[KpiTarget] = Field(default_factory=list, title="KPI 目标")
    review: Review = Field(title="评估与复盘")
    approval: Approval | None = Field(default=None, title="策划书审批",
                                      description="审批人、职务、结论(通过/修改后通过/不通过)、日期与意见;显示在策划书封面")
    run: RunOptions = Field(default_factory=lambda: RunOptions(), title="运行设置")


class RunOptions(StrictModel):
    stage_timeout_s: int = Field(default=600, ge=10, le=86400, title="单阶段超时(秒)")


Plan.model_rebuild()
