"""Chinese labels for the column names of results and canonical data, kept in one place.

Tables in workbooks and reports show these labels; code and stored results keep the English
column names so that files stay stable when wording changes.
"""

from __future__ import annotations

COLUMNS: dict[str, str] = {
    # canonical data
    "customer_id": "客户编号", "name": "名称", "phone": "手机号", "region": "地区",
    "join_date": "注册日期", "order_id": "订单编号", "order_date": "下单日期", "amount": "金额(元)",
    "campaign": "活动代码", "channel": "渠道", "variant": "版本",
    # goals
    "goal_id": "编号", "metric": "衡量指标", "segment": "目标客群", "baseline": "基线值",
    "baseline_source": "基线来源", "target": "目标值", "direction": "方向", "unit": "单位",
    "deadline": "截止日期", "specific": "具体(S)", "measurable": "可衡量(M)",
    "achievable": "可实现(A)", "relevant": "相关(R)", "time_bound": "有时限(T)",
    "smart_ok": "SMART", "notes": "说明",
    # needs analysis
    "recency_days": "最近消费(天)", "frequency": "消费次数", "monetary": "消费金额(元)",
    "r_score": "R", "f_score": "F", "m_score": "M", "rfm_score": "RFM", "tier": "所属层级",
    "tier_rule": "分层依据", "in_scope": "目标客群", "control": "对照组", "customers": "客户数",
    "share": "占比(%)", "avg_monetary": "人均消费(元)", "monetary_share": "消费占比(%)",
    "goal": "互动目标", "needs": "核心需求", "strategy": "维护策略建议", "treatment": "实验组",
    # channels
    "audience": "对象", "channel_name": "渠道", "audience_size": "对象人数",
    "customers_contacted": "触达人数", "contacts": "触达次数", "cost": "成本(元)",
    "expected_reached": "预计触达", "expected_responses": "预计响应", "content": "内容",
    "cost_per_contact": "单次成本(元)", "fixed_cost": "固定成本(元)", "reach_rate": "触达率(%)",
    "open_rate": "打开率(%)", "response_rate": "响应率(%)",
    # execution
    "task_id": "编号", "phase": "阶段", "owner": "负责人", "start": "开始", "end": "结束",
    "duration_days": "天数", "depends_on": "前置任务", "issues": "问题", "done_when": "完成标准",
    "resources": "依赖资源", "slack_days": "浮动时间(天)", "critical": "关键路径",
    "category": "预算科目", "detail": "明细说明", "planned": "预算金额(元)", "actual": "实际支出(元)",
    "variance": "差异(元)", "note": "差异说明",
    # review
    "kpi": "指标代码", "dimension": "评估维度", "status": "达成情况", "suggestion": "分析与改进建议",
    "step": "环节", "rate_of_previous": "环节转化率(%)", "rate_of_target": "占目标客户(%)",
    "metric_name": "指标", "history_min": "历史最低", "history_max": "历史最高", "rule": "分层规则",
    "avg_frequency": "人均消费次数", "avg_recency_days": "平均最近消费(天)", "kind": "类型",
    "channels": "渠道", "coverage": "覆盖比例(%)", "contacts_per_customer": "每客户触达次数",
    "cost_per_response": "单个响应成本(元)", "planned_start": "计划开始", "earliest_start": "最早开始",
    "earliest_finish": "最早结束", "latest_start": "最晚开始", "latest_finish": "最晚结束",
    "delay_days": "延误(天)", "week_start": "周起始日", "tasks": "任务数", "task_ids": "任务",
    "peak_concurrent": "单日最多并行任务", "over_allocated": "超负荷", "target_text": "目标值",
    "actual_text": "实际值", "label": "渠道", "comparison": "比较", "group_customers": "组人数",
    "group_buyers": "组内复购人数", "group_rate": "组复购率(%)", "control_customers": "对照组人数",
    "control_buyers": "对照组复购人数", "control_rate": "对照组复购率(%)", "uplift_pp": "提升(百分点)",
    "ci_low": "95%置信区间下限", "ci_high": "95%置信区间上限", "significant": "差异显著",
    "source": "数据来源", "explanation": "计算说明", "rows": "行数", "encoding": "编码",
    "excluded": "排除行数", "excluded_reasons": "排除原因", "path": "文件",
    # review: effect checks, diagnosis, per-group KPIs
    "effect_check": "效果检验(与对照组比较)", "effect_text": "对照组提升", "effect_significant": "提升显著",
    "flag": "标记", "cause": "原因", "advice": "建议措施", "group": "分组", "value": "数值",
    "numerator": "分子", "denominator": "分母", "outcome": "结果指标", "uplift": "提升", "p_value": "p值",
    "mde": "最小可检测效应", "verdict": "结论",
    # channel optimisation, checkpoints, budget reconciliation, pulse
    "rate_source": "效果参数来源", "reach": "触达率", "open": "打开率", "response": "响应率",
    "manual_customers": "手工·触达人数", "manual_k": "手工·每人次数", "manual_cost": "手工·成本(元)",
    "manual_responses": "手工·预计响应", "optimised_customers": "优化·触达人数", "optimised_k": "优化·每人次数",
    "optimised_cost": "优化·成本(元)", "optimised_responses": "优化·预计响应", "change_responses": "响应变化",
    "constraint": "约束", "used": "当前值", "limit": "限值", "slack": "余量", "binding": "起约束作用",
    "shadow_text": "影子价格", "allowed": "可用渠道", "preferred": "优先渠道", "min_coverage": "最低覆盖(%)",
    "max_contacts": "每客户触达上限(次)", "goals": "服务的目标", "cap": "触达上限(%)",
    "checkpoint": "检查点", "due": "检查日期", "kpi_name": "指标", "threshold_text": "预警阈值",
    "action": "调整措施", "respond_within_hours": "启动调整时限(小时)", "act_by": "最迟启动调整",
    "done_on": "实际完成", "finish_delay_days": "完成延期(天)", "channel_cost": "渠道计划成本(元)",
    "budget_planned": "推广费预算(元)", "difference": "差额(预算−成本,元)", "state": "状态",
    "overdue_days": "逾期(天)", "value_at_due": "检查日实际", "value_now": "截至当日",
    "manual_plan": "手工方案", "optimised_plan": "优化方案", "lines": "明细数",
}


def label(column: str) -> str:
    """The Chinese label of ``column`` (the column name itself when none is defined)."""
    return COLUMNS.get(column, column)
