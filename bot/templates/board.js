(function(){
var q=document.getElementById('q'),shown=document.getElementById('shown');
var rows=[].slice.call(document.querySelectorAll('#board>li'));
var label=shown.getAttribute('data-label')||'';
q.addEventListener('input',function(){
 var v=q.value.trim().toLowerCase(),n=0;
 rows.forEach(function(r){var ok=!v||r.getAttribute('data-name').indexOf(v)>=0;r.hidden=!ok;if(ok)n++;});
 shown.textContent=label.replace('#',n);
});
[].forEach.call(document.querySelectorAll('details[data-src]'),function(d){
 d.addEventListener('toggle',function(){
  if(!d.open||d.getAttribute('data-loaded'))return;
  d.setAttribute('data-loaded','1');
  var box=d.querySelector('.list'),src=d.getAttribute('data-src');
  fetch(src+(src.indexOf('?')<0?'?':'&')+'part=1').then(function(r){return r.ok?r.text():Promise.reject();})
   .then(function(html){box.innerHTML=html;},function(){d.removeAttribute('data-loaded');});
 });
});
})();
