// 简体中文。
import type { MessageKey } from "./en";

export const zhCN: Record<MessageKey, string> = {
  "app.name": "Seatline 坐席",
  "app.skip_to_main": "跳到工作区",
  "app.loading": "正在打开工作区…",
  "app.load_failed": "无法打开工作区：{message}",
  "app.retry": "重试",
  "app.shortcuts": "快捷键：Alt+1 电话，Alt+2 客户，Alt+3 知识库，Alt+4 工单",

  "status.label": "状态",
  "status.agent": "坐席",
  "status.agent_change": "切换坐席状态",
  "status.in_state_for": "已持续 {time}",
  "status.pending": "之后示忙：{reason}",
  "status.phone": "电话",
  "status.sync": "同步",
  "status.language": "语言",
  "status.error": "状态切换失败：{message}",

  "agent.ready": "示闲",
  "agent.not_ready": "示忙",
  "agent.on_call": "通话中",
  "agent.after_call_work": "话后处理",

  "reason.login": "刚登录",
  "reason.break": "小休",
  "reason.lunch": "用餐",
  "reason.meeting": "会议",
  "reason.training": "培训",
  "reason.outbound": "外呼工作",

  "phone.not_configured": "未配置",
  "sync.not_configured": "仅本地",
  "sync.not_connected": "未连接",

  "language.system": "跟随系统",
  "language.zh-CN": "中文（简体）",
  "language.en": "English",

  "panel.phone": "电话",
  "panel.customer": "客户",
  "panel.knowledge": "知识库",
  "panel.work_orders": "工单",

  "phone.empty_title": "尚未配置电话账号",
  "phone.empty_body": "添加呼叫中心 PBX 分配的 SIP 账号后即可拨打和接听电话。",
  "phone.number": "拨打号码",
  "phone.dialpad": "拨号盘",
  "phone.call": "呼叫",
  "phone.clear": "清除",

  "customer.empty_title": "当前没有通话",
  "customer.empty_body": "来电振铃时，来电客户的资料、历史记录和未结工单会显示在这里。",

  "knowledge.search": "搜索知识库",
  "knowledge.search_placeholder": "搜索文章和话术",
  "knowledge.empty_title": "知识库为空",
  "knowledge.empty_body": "导入文章或从服务器同步后，文章会显示在这里。",

  "knowledge.no_results": "没有与“{query}”匹配的文章。",
  "knowledge.hint": "共 {count} 篇文章。输入关键词或问题；↑↓ 选择，回车打开。",
  "knowledge.back": "返回结果",
  "knowledge.copy": "复制",
  "knowledge.copied": "已复制",
  "knowledge.gone": "这篇文章已不在知识库中。",
  "notice.kb_unavailable": "无法打开知识库，搜索已停用。（{reason}）",

  "orders.empty_title": "暂无工单",
  "orders.empty_body": "您创建的投诉、报修和回呼工单会显示在这里，离线时也可以创建。",
  "orders.filter": "显示",
  "orders.mine": "我的",
  "orders.team": "我的团队",
  "orders.overdue": "已超时",

  "notice.settings_set_aside": "设置文件无法读取，已另存为 {path}，当前使用默认设置。（{reason}）",
};
