"""The page at ``/`` in a real browser: headless Chromium (through selenium and chromedriver)
loads it from a real server, uploads a shipped photo, waits for the cut-out, downloads it,
and the downloaded PNG has an alpha channel at the photo's size; a screenshot of the page is
saved in the test's tmp dir. The browser comes from scripts/setup_browser.sh (Debian's
chromium and chromium-driver); the test skips, saying so, only when none can be found."""
import os
import shutil
import time

import cv2
import numpy as np
import pytest

from conftest import REAL_DATA_ROOT
from serve_process import demo_weights, multipart_body, request, running_server

pytestmark = pytest.mark.slow
PHOTO = os.path.join(REAL_DATA_ROOT, 'val', 'fg', 'GT05.png')
BROWSERS = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')


def _browser_paths():
    """(browser, chromedriver) found on PATH or named by $PADDLEMATTING_BROWSER /
    $PADDLEMATTING_CHROMEDRIVER; None for either when missing."""
    browser = os.environ.get('PADDLEMATTING_BROWSER') or next(
        (shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    driver = os.environ.get('PADDLEMATTING_CHROMEDRIVER') or shutil.which('chromedriver')
    return browser, driver


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip('selenium.webdriver', reason='selenium is missing: pip install -e ".[test]"')
    binary, driver_path = _browser_paths()
    if binary is None or driver_path is None:
        pytest.skip('no headless browser installed (chromium and chromedriver): run '
                    'scripts/setup_browser.sh')
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                 '--window-size=1200,900'):
        options.add_argument(flag)
    downloads = tmp_path / 'downloads'
    downloads.mkdir()
    options.add_experimental_option('prefs', {'download.default_directory': str(downloads),
                                              'download.prompt_for_download': False})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd('Page.setDownloadBehavior', {'behavior': 'allow', 'downloadPath': str(downloads)})
    try:
        yield driver, downloads
    finally:
        driver.quit()


def _wait_for_file(folder, deadline=120.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        done = [p for p in folder.iterdir() if p.suffix == '.png']
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f'nothing was downloaded into {folder}')


def test_page_uploads_a_photo_and_downloads_an_rgba_png(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    driver, downloads = browser
    weights = demo_weights(str(tmp_path))
    with running_server(weights, str(tmp_path)) as server:
        driver.get(server.base + '/')
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#model option'))
        driver.find_element(By.ID, 'file').send_keys(PHOTO)
        WebDriverWait(driver, 300).until(lambda d: d.find_element(By.TAG_NAME, 'body')
                                         .get_attribute('data-state') in ('done', 'error'))
        status = driver.find_element(By.ID, 'status').text
        assert driver.find_element(By.TAG_NAME, 'body').get_attribute('data-state') == 'done', status
        WebDriverWait(driver, 30).until(lambda d: d.execute_script(
            'return document.getElementById("after").naturalWidth') > 0)
        driver.save_screenshot(str(tmp_path / 'page.png'))
        driver.find_element(By.ID, 'download').click()
        downloaded = _wait_for_file(downloads)
        with open(PHOTO, 'rb') as f:  # the same photo and options straight to the API
            status, _, direct = request(server, 'POST', '/api/remove', *multipart_body(f.read()))
    assert downloaded.name == 'GT05_cutout.png'
    rgba = cv2.imread(str(downloaded), cv2.IMREAD_UNCHANGED)
    photo = cv2.imread(PHOTO)
    assert rgba.shape == photo.shape[:2] + (4,)  # an alpha channel, at the photo's size
    assert rgba[:, :, 3].min() < rgba[:, :, 3].max()
    assert status == 200
    np.testing.assert_array_equal(rgba, cv2.imdecode(np.frombuffer(direct, np.uint8), cv2.IMREAD_UNCHANGED))
    screenshot = cv2.imread(str(tmp_path / 'page.png'))
    assert screenshot is not None and screenshot.shape[1] >= 1000
