// The page's one job: send the picked photo to POST /api/remove with the chosen options and
// show the answer beside the photo. Plain browser JavaScript: no framework, no CDN.
'use strict';

const $ = (id) => document.getElementById(id);
let photo = null;
let resultUrl = null;
let photoUrl = null;

function setStatus(text, state, isError) {
  $('status').textContent = text;
  $('status').classList.toggle('error', Boolean(isError));
  document.body.dataset.state = state;
}

function fillSelect(select, names, chosen) {
  select.replaceChildren(...names.map((name) => {
    const option = document.createElement('option');
    option.value = name;
    option.textContent = name;
    option.selected = name === chosen;
    return option;
  }));
}

async function loadChoices() {
  const health = await (await fetch('/health')).json();
  fillSelect($('model'), health.models, health.default_model);
  fillSelect($('refiner'), ['none', ...health.refiners], health.default_refiner || 'none');
}

function formFor(file) {
  const form = new FormData();
  form.append('file', file);
  form.append('model', $('model').value);
  form.append('refiner', $('refiner').value || 'none');
  const background = $('background').value;
  if (background === 'color') form.append('bgcolor', $('color').value);
  if (background === 'mask') form.append('only_mask', 'true');
  return form;
}

async function cutOut() {
  if (!photo) return;
  setStatus('Removing the background…', 'working');
  $('download').hidden = true;
  $('again').disabled = true;
  try {
    const response = await fetch('/api/remove', { method: 'POST', body: formFor(photo) });
    if (!response.ok) {
      const error = await response.json().catch(() => ({ detail: response.statusText }));
      setStatus(`${response.status}: ${error.detail}`, 'error', true);
      return;
    }
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = URL.createObjectURL(await response.blob());
    $('after').src = resultUrl;
    $('download').href = resultUrl;
    $('download').download = photo.name.replace(/\.[^.]*$/, '') + '_cutout.png';
    $('download').hidden = false;
    setStatus('Done.', 'done');
  } catch (error) {
    setStatus(`The server could not be reached: ${error}`, 'error', true);
  } finally {
    $('again').disabled = false;
  }
}

function pick(file) {
  if (!file) return;
  photo = file;
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = URL.createObjectURL(file);
  $('before').src = photoUrl;
  $('after').removeAttribute('src');
  cutOut();
}

$('file').addEventListener('change', (event) => pick(event.target.files[0]));
$('again').addEventListener('click', cutOut);
$('background').addEventListener('change', () => {
  $('color-label').hidden = $('background').value !== 'color';
});
const drop = $('drop');
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  pick(event.dataTransfer.files[0]);
});
loadChoices().catch((error) => setStatus(`Cannot read /health: ${error}`, 'error', true));
