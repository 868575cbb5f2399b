//! The board's voice (DB33/T 2036.4 §7.3.6 叫号: the call is shown *and*
//! announced): a chime before every call, then the announcement spoken by
//! espeak-ng's Mandarin voice on the display machine itself, so a hall
//! with no internet and a browser with no Chinese voice still hears it.
//!
//! The board process runs `espeak-ng -v cmn` once per new announcement
//! (about 0.1 s), keeps the result, and serves chime + speech (said
//! `repeat` times) as one WAV file that the page plays; volumes are applied
//! to the samples here, so every TV of the hall sounds the same whatever
//! its browser does. The chime is synthesised (two decaying tones, "ding
//! dong"), written with `hound` like the rest.
//!
//! `--voice browser` keeps the chime and leaves the words to the browser's
//! own speech synthesis (for machines with a good Chinese voice but no
//! espeak-ng); `--voice off` is silent.

use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hallq_proto::types::{TicketNo, WindowNo};

/// Who speaks the announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoiceEngine {
    /// espeak-ng on the display machine (offline), after the chime.
    Espeak,
    /// The chime from the board process, the words from the browser's
    /// speech synthesis (needs a zh-CN voice in the browser).
    Browser,
    /// No sound at all.
    Off,
}

impl std::str::FromStr for VoiceEngine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "espeak" => Ok(VoiceEngine::Espeak),
            "browser" => Ok(VoiceEngine::Browser),
            "off" => Ok(VoiceEngine::Off),
            other => Err(format!("{other:?}: expected espeak, browser or off")),
        }
    }
}

/// How the board sounds (`hallq board --serve` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceSettings {
    /// Who speaks.
    pub engine: VoiceEngine,
    /// The spoken words' volume, 0–100 (% of espeak-ng's full level).
    pub voice_volume: u8,
    /// The chime's volume, 0–100 (0: no chime).
    pub chime_volume: u8,
    /// How many times each call is said (1–3).
    pub repeat: u8,
    /// The espeak-ng program.
    pub espeak: PathBuf,
    /// Speaking rate, words per minute (espeak-ng `-s`).
    pub rate: u16,
}

impl Default for VoiceSettings {
    fn default() -> Self {
        VoiceSettings {
            engine: VoiceEngine::Espeak,
            voice_volume: 100,
            chime_volume: 70,
            repeat: 2,
            espeak: PathBuf::from("espeak-ng"),
            rate: 150,
        }
    }
}

/// Why an announcement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// espeak-ng could not be started (not installed?).
    #[error("cannot run {program}: {reason} (install Debian's espeak-ng, or use --voice browser)")]
    Spawn {
        /// The program.
        program: String,
        /// The OS's answer.
        reason: String,
    },
    /// espeak-ng ran but failed or took too long.
    #[error("espeak-ng failed: {0}")]
    Engine(String),
    /// Its output is not a WAV file this board can mix.
    #[error("cannot read espeak-ng's audio: {0}")]
    Audio(String),
}

/// The chime's and the speech's sample rate: espeak-ng's own (22,050 Hz
/// mono, 16 bits), so nothing is resampled.
pub const SAMPLE_RATE: u32 = 22_050;

/// The longest espeak-ng may take for one sentence.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between the chime and the words, and between two repetitions.
const GAP_SECS: f32 = 0.35;
const REPEAT_GAP_SECS: f32 = 0.8;

/// Announcements kept (a recall says the same words again).
const CACHE: usize = 64;

/// What a call's announcement says, written for a speech engine: the
/// ticket's digits one by one, as halls read them ("A零零七号"), the window
/// as a number ("十二号窗口" — espeak-ng reads Arabic numerals as numbers).
pub fn speech_text(ticket: TicketNo, window: WindowNo) -> String {
    const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    let spelled: String = ticket
        .to_string()
        .chars()
        .map(|c| c.to_digit(10).map_or(c, |d| DIGITS[d as usize]))
        .collect();
    format!("请{spelled}号，到{window}号窗口办理")
}

/// The chime alone: two decaying tones (E5, then C5), at `volume` %.
pub fn chime_samples(volume: u8) -> Vec<i16> {
    let gain = f32::from(volume.min(100)) / 100.0 * 0.6;
    let note = |freq: f32, secs: f32| -> Vec<f32> {
        let n = (secs * SAMPLE_RATE as f32) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                // A short attack avoids a click; the decay makes it a bell.
                let envelope = (t / 0.01).min(1.0) * (-4.5 * t).exp();
                let w = std::f32::consts::TAU * freq * t;
                envelope * (w.sin() + 0.35 * (2.0 * w).sin() + 0.12 * (3.0 * w).sin()) / 1.47
            })
            .collect()
    };
    note(659.25, 0.55)
        .into_iter()
        .chain(note(523.25, 0.9))
        .map(|x| (x * gain * f32::from(i16::MAX)) as i16)
        .collect()
}

fn silence(secs: f32) -> impl Iterator<Item = i16> {
    std::iter::repeat_n(0, (secs * SAMPLE_RATE as f32) as usize)
}

/// Samples as a WAV file (mono, 16 bits, [`SAMPLE_RATE`]).
pub fn wav(samples: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::with_capacity(samples.len() * 2 + 44));
    {
        // Writing to memory cannot fail but for a size beyond 4 GiB.
        let mut writer = hound::WavWriter::new(&mut out, spec).expect("a WAV header in memory");
        for s in samples {
            writer.write_sample(*s).expect("a sample in memory");
        }
        writer.finalize().expect("a WAV file in memory");
    }
    out.into_inner()
}

/// Runs espeak-ng on `text`: its samples, at `volume` %.
async fn speak(settings: &VoiceSettings, text: &str) -> Result<Vec<i16>, VoiceError> {
    static N: AtomicU64 = AtomicU64::new(0);
    // espeak-ng's --stdout WAV has no real lengths in its header (it does
    // not know them when it starts writing); -w FILE gets them right.
    let file = std::env::temp_dir().join(format!(
        "hallq-voice-{}-{}.wav",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let run = tokio::process::Command::new(&settings.espeak)
        .args(["-v", "cmn", "-s", &settings.rate.to_string(), "-w"])
        .arg(&file)
        .arg("--")
        .arg(text)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    let result = match tokio::time::timeout(ENGINE_TIMEOUT, run).await {
        Err(_) => Err(VoiceError::Engine(format!(
            "no audio within {} s",
            ENGINE_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(VoiceError::Spawn {
            program: settings.espeak.display().to_string(),
            reason: e.to_string(),
        }),
        Ok(Ok(out)) if !out.status.success() => Err(VoiceError::Engine(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
        Ok(Ok(_)) => read_wav(&file, settings.voice_volume),
    };
    let _ = std::fs::remove_file(&file);
    result
}

fn read_wav(file: &std::path::Path, volume: u8) -> Result<Vec<i16>, VoiceError> {
    let audio = |e: hound::Error| VoiceError::Audio(e.to_string());
    let mut reader = hound::WavReader::open(file).map_err(audio)?;
    let spec = reader.spec();
    if spec.channels != 1 || spec.bits_per_sample != 16 || spec.sample_rate != SAMPLE_RATE {
        return Err(VoiceError::Audio(format!(
            "{} channel(s), {} bits, {} Hz; expected mono, 16 bits, {SAMPLE_RATE} Hz",
            spec.channels, spec.bits_per_sample, spec.sample_rate
        )));
    }
    let gain = f32::from(volume.min(100)) / 100.0;
    reader
        .samples::<i16>()
        .map(|s| s.map(|s| (f32::from(s) * gain) as i16).map_err(audio))
        .collect()
}

/// The board's announcements: made once per sentence, then kept.
#[derive(Debug, Clone)]
pub struct Voice {
    settings: Arc<VoiceSettings>,
    made: Arc<Mutex<Made>>,
}

#[derive(Debug, Default)]
struct Made {
    clips: HashMap<String, Arc<Vec<u8>>>,
    order: VecDeque<String>,
}

impl Voice {
    /// A voice with `settings`.
    pub fn new(settings: VoiceSettings) -> Voice {
        Voice {
            settings: Arc::new(settings),
            made: Arc::default(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &VoiceSettings {
        &self.settings
    }

    /// The chime alone, as a WAV file (for `--voice browser`).
    pub fn chime(&self) -> Vec<u8> {
        wav(&chime_samples(self.settings.chime_volume))
    }

    /// A call's announcement as one WAV file: the chime, then the words
    /// `repeat` times. Made by espeak-ng the first time, then kept.
    pub async fn announcement(
        &self,
        ticket: TicketNo,
        window: WindowNo,
    ) -> Result<Arc<Vec<u8>>, VoiceError> {
        let text = speech_text(ticket, window);
        if let Some(clip) = self.made.lock().expect("not poisoned").clips.get(&text) {
            return Ok(clip.clone());
        }
        let words = speak(&self.settings, &text).await?;
        let mut samples = if self.settings.chime_volume > 0 {
            let mut s = chime_samples(self.settings.chime_volume);
            s.extend(silence(GAP_SECS));
            s
        } else {
            Vec::new()
        };
        for i in 0..self.settings.repeat.clamp(1, 3) {
            if i > 0 {
                samples.extend(silence(REPEAT_GAP_SECS));
            }
            samples.extend_from_slice(&words);
        }
        let clip = Arc::new(wav(&samples));
        let mut made = self.made.lock().expect("not poisoned");
        if made.clips.insert(text.clone(), clip.clone()).is_none() {
            made.order.push_back(text);
            if made.order.len() > CACHE {
                if let Some(old) = made.order.pop_front() {
                    made.clips.remove(&old);
                }
            }
        }
        Ok(clip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_spells_the_ticket_and_keeps_the_window_a_number() {
        let text = speech_text("A007".parse().unwrap(), WindowNo(12));
        assert_eq!(text, "请A零零七号，到12号窗口办理");
    }

    #[test]
    fn the_chime_is_audible_and_follows_its_volume() {
        let rms = |s: &[i16]| {
            (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
        };
        let loud = chime_samples(100);
        let soft = chime_samples(25);
        assert!((1.3..1.6).contains(&(loud.len() as f32 / SAMPLE_RATE as f32)));
        assert!(rms(&loud) > 2000.0, "{}", rms(&loud));
        let ratio = rms(&soft) / rms(&loud);
        assert!((0.2..0.3).contains(&ratio), "{ratio}");
        assert!(chime_samples(0).iter().all(|&s| s == 0));
        // A valid WAV file of that many samples.
        let file = wav(&loud);
        let reader = hound::WavReader::new(Cursor::new(file)).unwrap();
        assert_eq!(reader.duration() as usize, loud.len());
    }
}
