"""The service card's request form (在线申请服务) and its answer page: server-rendered, no script,
phone-sized, in the card's style. Takes plain dicts, returns HTML."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from geo.core.clock import as_city

_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_HEAD = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · 您来旅居我服务</title>
<style>
  body { margin: 0 auto; max-width: 480px; padding: 12px 14px;
         font: 15px/1.6 "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
         color: #1f2933; background: #f5f7f2; }
  h1 { font-size: 20px; color: #2b6a3f; margin: 4px 0; }
  .box { background: #fff; border-radius: 8px; padding: 10px 12px; margin: 8px 0;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  label { display: block; margin: 8px 0 2px; font-weight: bold; }
  select, input, textarea { width: 100%; box-sizing: border-box; font-size: 16px; padding: 6px; }
  button { margin-top: 12px; width: 100%; font-size: 17px; padding: 10px; border: 0;
           border-radius: 6px; background: #2b6a3f; color: #fff; }
  .sub { color: #5f6b7a; font-size: 13px; }
  .error { color: #c92a2a; font-weight: bold; }
  .code { font-size: 22px; font-weight: bold; letter-spacing: 2px; color: #d9480f; }
</style></head><body>
"""

_FORM = _ENV.from_string(
    _HEAD
    + """
<h1>在线申请服务</h1>
<p class="sub">Request a service · 无需注册；由离您最近、提供该项目的候鸟服务区受理。</p>
{% if error %}<div class="box error" role="alert">{{ error }}</div>{% endif %}
<form class="box" method="post" action="/card/request">
  <input type="hidden" name="lon" value="{{ lon }}">
  <input type="hidden" name="lat" value="{{ lat }}">
  <input type="hidden" name="crs" value="{{ crs }}">
  <label for="item">服务项目 Service</label>
  <select id="item" name="item" required>
    {% for cat in categories %}
    <optgroup label="{{ cat.label }}">
      {% for i in cat["items"] %}
      <option value="{{ i.code }}"{% if i.code == chosen %} selected{% endif %}>
        {{ i.name }}（{{ i.due_hours }} 小时内响应）</option>
      {% endfor %}
    </optgroup>
    {% endfor %}
  </select>
  <label for="description">需要什么帮助 What do you need (选填)</label>
  <textarea id="description" name="description" maxlength="500" rows="3"></textarea>
  <label for="name">称呼 Name (选填)</label>
  <input id="name" name="name" maxlength="50">
  <label for="phone">手机号 Mobile (选填)</label>
  <input id="phone" name="phone" maxlength="20" inputmode="tel">
  <p class="sub">手机号仅用于服务区工作人员回电，加密保存，页面上只显示 138****5678 的形式。</p>
  <button type="submit">提交申请 Submit</button>
</form>
<p class="sub"><a href="/card?lon={{ lon }}&amp;lat={{ lat }}&amp;crs={{ crs }}">
  返回服务卡 Back to the card</a></p>
</body></html>
"""
)

_DONE = _ENV.from_string(
    _HEAD
    + """
<h1>申请已提交</h1>
<div class="box">
  <div>受理编号 Your code</div>
  <div class="code">{{ r.public_id }}</div>
  <p class="sub">请保存此编号：凭编号查询进度、取消或评价
  （/api/v1/service-requests/public/{{ r.public_id }}）。
  Keep this code: it is how you follow, cancel or rate the request.</p>
</div>
<div class="box">
  <div><b>{{ r.item.category_label }} · {{ r.item.name }}</b></div>
  <div>受理服务区：{{ r.area.name }}（约 {{ r.area.distance_m | round | int }} 米）</div>
  {% if r.area.address %}<div>地址：{{ r.area.address }}</div>{% endif %}
  {% if r.area.phone %}
  <div>电话 <a href="tel:{{ r.area.phone }}">{{ r.area.phone }}</a></div>
  {% endif %}
  <div>请在 {{ due }} 前等待工作人员联系。</div>
</div>
</body></html>
"""
)


def form_page(
    *,
    lon: str,
    lat: str,
    crs: str,
    categories: list[dict[str, Any]],
    chosen: str | None = None,
    error: str | None = None,
) -> str:
    return _FORM.render(
        title="在线申请服务",
        lon=lon,
        lat=lat,
        crs=crs,
        categories=categories,
        chosen=chosen,
        error=error,
    )


def done_page(request: dict[str, Any]) -> str:
    due = request["due_at"]
    return _DONE.render(title="申请已提交", r=request, due=f"{as_city(due):%m月%d日 %H:%M}")
