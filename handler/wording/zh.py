"""Every human sentence in Chinese (简体中文): record titles and text, resolved notices, channel labels.

Cloud values go in through the {placeholders}, never the other way round.
"""

RECORD: dict[str, str] = {
    "critical": "紧急",
    "major": "重要",
    "warning": "警告",
    "info": "提示",
    "failover": "{tag} {pool}:主节点 {master} 故障,流量已切换到备节点 {standby}",
    "no_standby": "{tag} {pool}:主节点 {master} 故障,且没有备节点",
    "outage": "{tag} {pool}:主备节点均故障",
    "no_master": "{tag} {pool}:主备后端服务器组中没有主节点",
    "no_monitor": "{tag} {pool}:未开启健康检查,主节点 {master} 状态未知",
    "master_unknown": "{tag} {pool}:主节点 {master} 状态为 {state},不是 ONLINE",
    "standby_failed": "{tag} {pool}:备节点 {standby} 故障,已无法再切换",
    "check_failed": "{tag} {subject}:后端服务器检测发现 {count} 个{noun}",
    "check_member": "后端服务器 {member}",
    "problem": "问题",
    "problems": "问题",
    "unexplained": "未说明的",
    "Master": "主节点",
    "Standby": "备节点",
    "member_is": "{role} {label}({where})状态为 {state}",
    "on_listener": "(监听器 {listeners})",
    "end": "。",
    "why": "原因:{reason}。",
    "failed_over": ",流量已切换到该节点。",
    "nowhere": "没有备节点:流量无处切换。",
    "monitor_off": "该后端服务器组未开启健康检查,ELB 无法判断主节点是否健康。",
    "progress": "{finished}/{total} 项",
    "progress_unknown": "进度未知",
    "impossible_counters": "ELB 返回的进度计数不可能成立({counters});已按范围修正显示。",
    "items_omitted": "- … 另有 {count} 项未通过(ELB 列出的项超过本函数保留的数量)。",
    "check_job": "检测任务 {job_id}({status},{progress}):{failed} 项未通过。",
    "group_no_details": "- {group}检查未通过,ELB 未给出检查项详情。",
    "group_incomplete": "- {group}检查未能完成。",
    "still_running": "检测任务仍在进行中,以上为目前已知的结果。",
    "pool_line": "后端服务器组 {name}({id}),{protocol},区域 {region},项目 {project}。",
    "region_line": "区域 {region},项目 {project}。",
    "config": "配置",
    "acl": "网络ACL",
    "security_group": "安全组",
    "resolved": "已恢复",
    "role_master": "主节点",
    "role_standby": "备节点",
    "span": "{start} 至 {end},共 {lasted}",
    "r_monitor_title": "{tag} {pool}:主节点 {name} 的健康检查已恢复,历时 {lasted}",
    "r_monitor_line": "后端服务器组的健康检查重新检测到主节点 {name}({address}):状态为 {status}。",
    "r_monitor_span": "健康检查失效的时段:{span}。",
    "r_back_title": "{tag} {pool}:{role} {name} 已恢复 ONLINE,故障持续 {lasted}",
    "r_back_line": "{Role} {name}({address})已恢复 ONLINE。",
    "r_was": "此前状态为 {was}{code},{span}。",
    "r_other_title": "{tag} {pool}:{role} {name} 已不再是 {was},历时 {lasted}(当前 {status})",
    "r_other_line": "{Role} {name}({address})已不再是 {was}:当前状态为 {status}。",
    "r_master_title": "{tag} {pool}:后端服务器组已重新有主节点,历时 {lasted}",
    "r_master_line": "已有成员重新成为主节点;此前没有主节点的时段:{span}。",
    "r_check_title": "{tag} {subject}:后端服务器检测发现的问题已消失,历时 {lasted}",
    "r_check_line": "检测任务在 {span} 报告的问题已不再出现。",
    "r_check_items": "问题项:{items}。",
    "r_confirmed": "已连续 {checks} 次检查未再出现;最后一次出现于 {last_seen}。",
    "r_watcher_title": "{tag} elb-master-watch 已恢复正常:{code} 已消失,历时 {lasted}",
    "r_watcher_line": "监控自身的错误 {code} 已不再出现;持续时段:{span}。",
}
"""Record titles and text (`handler.notify`) and resolved notices (`handler.lifecycle`)."""

CHANNEL: dict[str, str] = {
    "firing": "告警",
    "resolved": "已恢复",
    "critical": "紧急",
    "major": "重要",
    "warning": "警告",
    "info": "提示",
    "master": "主节点",
    "master_reason": "主节点原因",
    "listeners": "异常监听器",
    "standby": "备节点",
    "standby_reason": "备节点原因",
    "no_standby": "无，无法切换",
    "check_job": "检查任务",
    "failed_count": "{n} 项失败",
    "pool": "后端服务器组",
    "region": "区域",
    "project": "项目",
    "observed_at": "发现时间",
    "fingerprint": "指纹",
    "items": "失败的检查项",
    "more": "… 另有 {n} 项",
    "cut_to_fit": "… 其余内容超出 {channel} 的 {limit} 消息大小限制，已截去",
    "group_no_details": "{group}：检查失败，ELB 未给出检查项详情",
    "group_incomplete": "{group}：检查未能完成",
    "processing": "检查任务仍在进行中：以下是目前已知的检查项。",
    "reason_first": "新告警",
    "reason_changed": "状态变化",
    "reason_repeat": "持续告警",
    "reason_resolved": "已恢复",
    "group_config": "配置",
    "group_acl": "网络ACL",
    "group_security_group": "安全组",
    "digest_kind": "汇总",
    "digest_items": "后端服务器组",
    "digest_acknowledged": "已由 {by} 确认",
    "digest_one": "1 个后端服务器组",
    "digest_many": "{n} 个后端服务器组",
    "digest_master_failed_critical": "主节点故障，无法切换",
    "digest_master_failed_major": "主节点故障，流量已切到备节点",
    "digest_master_failed": "主节点故障",
    "digest_no_master": "没有主节点",
    "digest_master_unknown": "主节点健康状态未知",
    "digest_no_monitor": "主节点没有健康检查",
    "digest_standby_failed": "备节点故障，无法切换",
    "digest_check_failed": "成员检查发现问题",
    "digest_mixed": "需要处理",
    "digest_resolved": "已恢复",
    "watcher_code": "错误码",
    "watcher_message": "错误",
    "watcher_action": "处理方法",
    "link_runbook": "处理手册",
    "link_console": "在控制台查看",
    # The action links (issue 23: handler.actions).
    "link_ack": "确认",
    "link_silence_1h": "静默 1 小时",
    "link_silence_4h": "静默 4 小时",
    "link_silence_resolved": "静默至恢复",
    "links": "链接",
}
"""Labels the channel renderers share (`channels.message`) and digest titles (`channels.digest`)."""

REASON_CODES: dict[str, str] = {
    "CONNECT_TIMEOUT": "健康检查向后端服务器建立连接超时",
    "CONNECT_REFUSED": "后端服务器拒绝了健康检查连接",
    "CONNECT_FAILED": "健康检查向后端服务器建立连接失败",
    "CONNECT_INTERRUPT": "健康检查与后端服务器的连接中断",
    "SSL_HANDSHAKE_ERROR": "健康检查与后端服务器SSL握手失败",
    "RECV_RESPONSE_FAILED": "健康检查从后端服务器接收响应失败",
    "RECV_RESPONSE_TIMEOUT": "健康检查从后端服务器接收响应超时",
    "SEND_REQUEST_FAILED": "健康检查向后端服务器发送请求失败",
    "SEND_REQUEST_TIMEOUT": "健康检查向后端服务器发送请求超时",
    "RESPONSE_FORMAT_ERROR": "健康检查从后端服务器接收的响应格式错误",
    "RESPONSE_MISMATCH": "后端服务器返回的健康检查响应码与预期不一致",
}
"""ELB's health-check reason codes (MemberHealthCheckFailedReason.reason_code), in plain words."""

REASON: dict[str, str] = {
    "none": "ELB未返回原因(后端实例可能已关机或被删除)",
    "unknown": "健康检查失败({code})",
    "expected": "(预期 {expected},实际 {actual})",
}
"""How a reason code is said when ELB gives none or one we do not know, and the expected/actual suffix."""


# 监控函数自身的故障(watcher_error):按范围的标题,以及按错误码或 HTTP 状态的处理方法。
# 变量名、权限名和命令保持原文,便于复制。
WATCHER: dict[str, str] = {
    "watcher:config": "配置不可用",
    "watcher:setup": "无法读取 ELB:缺少配置",
    "watcher:elb-reach": "无法连接 ELB",
    "watcher:elb-access": "ELB 拒绝访问",
    "watcher:store": "状态存储不可用,告警不再去重",
    "watcher:delivery": "所有通知渠道均发送失败",
    "": "运行异常",
    "what": "处理方法",
    "title": "[{severity}] elb-master-watch {what}:{code}{status}",
    "text": "{message}\n{what}:{action}",
    "status": "(HTTP {status})",
    "critical": "紧急",
    "warning": "警告",
}
WATCHER_ADVICE: dict[str, str] = {
    "APIGW.0301": (
        "ELB API 拒绝了请求签名:AK/SK 错误或临时安全凭证已过期。请检查函数的委托,"
        "或 HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK。"
    ),
    "401": "ELB API 拒绝了凭证:请检查函数的委托,或 HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK 及安全令牌。",
    "403": (
        "权限不足:请为委托(或用户)授予 elb:pools:get、elb:pools:list、elb:members:get "
        "和 elb:members:create,并确认项目 ID 属于该区域。"
    ),
    "CONFIG.REGION": "请将 ELB_WATCH_REGION(或事件中的 'region')设置为 SDK 支持的区域。",
    "CONFIG.PROJECT_ID": "请设置 HUAWEICLOUD_SDK_PROJECT_ID(或在事件中提供 'project_id')。",
    "CONFIG.CREDENTIALS": "请为函数配置委托,或设置 HUAWEICLOUD_SDK_AK 和 HUAWEICLOUD_SDK_SK。",
    "CONFIG.INVALID": "请修正消息中指出的变量(见 docs/reference.md 的配置表 Configuration)。",
    "WATCH.CONNECTION": (
        "请检查函数的网络:设置了 vpc_id 时需要带 EIP 的 NAT 网关;"
        "并检查 HUAWEICLOUD_SDK_REGION_ELB_* 终端节点覆盖设置。"
    ),
    "WATCH.TIMEOUT": "ELB 未及时响应:请检查函数的网络(VPC/NAT)和终端节点覆盖设置,或调大函数超时时间。",
    "WATCH.STATE": (
        "在状态存储恢复之前告警不会去重:请检查 ELB_WATCH_STATE(地址、密码、TLS),以及函数所在 VPC 能否访问它。"
    ),
    "WATCH.CHANNELS": (
        "没有任何渠道接收通知:请查看结果中的 `deliveries` 和日志;检查 webhook URL、密钥和 SMN 主题,"
        "以及函数的公网访问(设置 vpc_id 时需要 NAT)。"
    ),
    "": "请参阅 docs/reference.md 的故障排查表(Troubleshooting)和本次运行的日志。",
}

# The weekly report (`{"report": "weekly"}`, handler.report): one message with the history's summary.
REPORT: dict[str, str] = {
    "title": "[报告] ELB 主备监控，最近 {days} 天：{episodes} 次事件，{failovers} 次切换到备，"
    "{outages} 次中断",
    "quiet_title": "[报告] ELB 主备监控，最近 {days} 天：无事件",
    "span": "统计区间 {start} 至 {end}。",
    "quiet": "这些天没有后端服务器组故障。",
    "pool": "{pool}：{episodes} 次事件，{failovers} 次切换到备，{outages} 次中断，平均恢复 {mean}"
    "（p90 {p90}），最常见原因：{cause}",
    "open": "未恢复",
    "more": "… 另有 {more} 个后端服务器组（elb-master-watch alerts history --since {days}d）",
    "none": "-",
    "period": "统计区间",
    "period_value": "{start} → {end}",
    "totals": "合计",
    "totals_value": "{episodes} 次事件 · {failovers} 次切换到备 · {outages} 次中断 · {pools} 个后端服务器组",
    "pools": "后端服务器组",
}


# Action links (issue 23): labels, pages, announcement.
ACTIONS: dict[str, str] = {
    "lang": "zh-CN",
    "heading": "elb-master-watch",
    "alert": "告警",
    "pool": "后端服务器组",
    "master": "主节点",
    "why": "原因",
    "what_silence_1h": "静默此告警 1 小时：{until} 之前不再发送它的通知。",
    "what_silence_4h": "静默此告警 4 小时：{until} 之前不再发送它的通知。",
    "what_silence_resolved": (
        "静默此告警直至恢复：发现它恢复的那次运行之前不再发送它的通知（恢复通知照常发送），最长 90 天。"
    ),
    "what_ack": "确认此告警：在它变化或恢复之前不再重复通知。",
    "what_after": "收到此告警的每个接收方都会收到操作人的通知。`silence list` 可以查看。",
    "name": "您的名字",
    "comment": "备注（可选）",
    "did_silence_1h": "已静默 1 小时",
    "did_silence_4h": "已静默 4 小时",
    "did_silence_resolved": "已静默至恢复",
    "did_ack": "已确认",
    "done_title": "完成",
    "done": "告警{did}，操作人 {name}。",
    "done_silence": "静默 {id}，至 {until}。",
    "told": "已通知：{receivers}。",
    "told_none": "没有接收方收到此告警，因此没有发送通知。",
    "already_title": "已经处理",
    "already": "{name} 已于 {at} 处理：未做任何更改。",
    "expired_title": "此链接已过期",
    "expired_aged": "链接的有效期为 24 小时，此链接已超过。",
    "expired_changed": "此消息之后告警已变化、再次通知或已恢复：它的链接已失效。",
    "expired_hint": "请使用最新消息中的链接，或使用 `elb-master-watch silence add`。",
    "forged_title": "此链接无效",
    "forged": "链接已损坏，或不是本函数生成的。请打开消息中的完整链接。",
    "unknown_title": "未知告警",
    "unknown": "状态存储中没有此链接对应的告警（可能已在 30 天后删除）。",
    "limited_title": "无效链接过多",
    "limited": "来自您地址的无效链接过多：请 10 分钟后再试。",
    "off_title": "操作链接已关闭",
    "unavailable_title": "请重试",
    "unavailable": "状态存储没有响应：未做任何操作。请一分钟后重试。",
    "stale_title": "表单已失效",
    "stale": "此表单不是该链接提供的表单：请重新打开链接并从那里提交。",
    "unsupported_title": "暂不可用",
    "unsupported": "此操作暂不可用。",
    "method_title": "不允许",
    "method": "请打开链接（GET）并提交其表单（POST）。",
    "announce": "{alert}：{did}，操作人 {name}（通过链接）",
    "announce_text": "{did}，操作人 {name}（通过链接），时间 {at}。",
    "announce_until": "静默 {id}，至 {until}。",
    "announce_comment": "备注：{comment}",
}
