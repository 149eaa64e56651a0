(function(){
var q=document.getElementById('q'),shown=document.getElementById('shown');
var label=shown.getAttribute('data-label')||'';
var rows=[].slice.call(document.querySelectorAll('#board>li')).map(function(li){
 var small=li.querySelector('small');
 return [li,(li.querySelector('b').textContent+' '+(small?small.textContent:'')).toLowerCase()];
});
q.addEventListener('input',function(){
 var v=q.value.trim().toLowerCase(),n=0;
 rows.forEach(function(r){var ok=!v||r[1].indexOf(v)>=0;r[0].hidden=!ok;if(ok)n++;});
 shown.textContent=label.replace('#',n);
});
[].forEach.call(document.querySelectorAll('#board details'),function(d){
 d.addEventListener('toggle',function(){
  if(!d.open||d.getAttribute('data-loaded'))return;
  d.setAttribute('data-loaded','1');
  var box=d.querySelector('div'),src=box.querySelector('a').getAttribute('href');
  fetch(src+(src.indexOf('?')<0?'?':'&')+'part=1').then(function(r){return r.ok?r.text():Promise.reject();})
   .then(function(html){box.innerHTML=html;},function(){d.removeAttribute('data-loaded');});
 });
});
})();
