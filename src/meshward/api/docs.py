# ruff: noqa: E501  (an inline HTML/JS asset, kept as written)
"""The API docs page: our own, no CDN. It reads /openapi.json and lists every operation with
its parameters; nothing is fetched from anywhere else."""

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshward API</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:1rem 1.5rem;color:#1b1f24}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}
details{border:1px solid #e1e4e8;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer}code{font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:4.2em;font-weight:600;font-family:ui-monospace,monospace}
.get{color:#0969da}.post{color:#1a7f37}.put{color:#9a6700}.patch{color:#8250df}.delete{color:#cf222e}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #e1e4e8;padding:.2rem .5rem;text-align:left}
</style></head><body>
<h1>meshward API</h1>
<p>Send <code>Authorization: Bearer &lt;token&gt;</code> (from <code>meshward token create</code>).
The machine-readable description is at <a href="/openapi.json">/openapi.json</a>.</p>
<div id="ops">loading /openapi.json ...</div>
<script>
function esc(s){return String(s==null?"":s).replace(/[&<>"]/g,function(c){return {"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c];});}
fetch("/openapi.json").then(function(r){return r.json();}).then(function(spec){
  var groups={};
  Object.keys(spec.paths).sort().forEach(function(path){
    var item=spec.paths[path];
    Object.keys(item).forEach(function(method){
      var op=item[method];var tag=(op.tags&&op.tags[0])||"other";
      (groups[tag]=groups[tag]||[]).push([method,path,op]);
    });
  });
  var html="";
  Object.keys(groups).sort().forEach(function(tag){
    html+="<h2>"+esc(tag)+"</h2>";
    groups[tag].forEach(function(e){
      var op=e[2];var params=op.parameters||[];
      html+="<details><summary><span class='m "+e[0]+"'>"+e[0].toUpperCase()+"</span> <code>"+esc(e[1])+"</code> "+esc(op.summary||"")+"</summary>";
      if(op.description){html+="<p>"+esc(op.description)+"</p>";}
      if(params.length){html+="<table><tr><th>parameter</th><th>in</th><th>required</th><th>description</th></tr>";
        params.forEach(function(p){html+="<tr><td><code>"+esc(p.name)+"</code></td><td>"+esc(p.in)+"</td><td>"+(p.required?"yes":"")+"</td><td>"+esc(p.description)+"</td></tr>";});
        html+="</table>";}
      if(op.requestBody){html+="<p>body: "+esc(Object.keys(op.requestBody.content||{}).join(", "))+"</p>";}
      html+="<p>responses: "+esc(Object.keys(op.responses||{}).join(", "))+"</p></details>";
    });
  });
  document.getElementById("ops").innerHTML=html;
}).catch(function(err){document.getElementById("ops").textContent="could not load /openapi.json: "+err;});
</script>
</body></html>
"""
