//! One store read shared by everyone asking the same question at once.
//!
//! A job page open in 300 browsers asked the store 600 times a second for the same row, and 200
//! renders of one job page read its 5,000 spans 200 times. Now callers asking about the same key
//! queue on that key's lock and take an answer someone else read, if it is fresh enough for
//! them:
//! - it was read after they asked (those who arrived while a read was under way share the next
//!   read, so an answer never predates the question: at most two reads per crowd), or
//! - it is younger than the reads' `fresh` window (live streams: a poll may take an answer
//!   250 ms old).
//!
//! With a zero window an answer is only kept while someone is queued for it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

struct Answer<V> {
    /// When the read that gave `value` began.
    began: Instant,
    value: V,
}

type Slot<V> = Arc<tokio::sync::Mutex<Option<Answer<V>>>>;

pub struct SharedReads<K, V> {
    fresh: Duration,
    /// Keys remembered at most; beyond, those nobody is asking about are forgotten.
    remembered: usize,
    slots: Mutex<HashMap<K, Slot<V>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> SharedReads<K, V> {
    pub fn new(fresh: Duration, remembered: usize) -> Self {
        SharedReads {
            fresh,
            remembered,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The answer to `key`: a fresh enough one someone read, else `read`'s (errors are not
    /// shared: the next caller reads again).
    pub async fn get<E, F>(&self, key: &K, read: F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        let asked = Instant::now();
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if slots.len() >= self.remembered {
                // Slots only the map holds have nobody queued on them.
                slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
            Arc::clone(slots.entry(key.clone()).or_default())
        };
        let mut answer = slot.lock().await;
        let usable = answer
            .as_ref()
            .filter(|a| a.began >= asked || a.began.elapsed() < self.fresh)
            .map(|a| a.value.clone());
        let value = match usable {
            Some(value) => value,
            None => {
                let began = Instant::now();
                let value = read.await?;
                *answer = Some(Answer {
                    began,
                    value: value.clone(),
                });
                value
            }
        };
        // Held by the map and this caller only: nobody is queued for the answer.
        if self.fresh.is_zero() && Arc::strong_count(&slot) <= 2 {
            *answer = None;
        }
        Ok(value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn counted(reads: &AtomicUsize, pause: Duration) -> Result<usize, ()> {
        let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(pause).await;
        Ok(n)
    }

    #[tokio::test]
    async fn test_a_crowd_asking_at_once_shares_at_most_two_reads() {
        let shared = SharedReads::<u8, usize>::new(Duration::ZERO, 16);
        let reads = AtomicUsize::new(0);
        let crowd = (0..50).map(|_| shared.get(&1, counted(&reads, Duration::from_millis(20))));
        let answers = futures::future::join_all(crowd).await;
        assert!(answers.iter().all(Result::is_ok));
        let n = reads.load(Ordering::SeqCst);
        assert!((1..=2).contains(&n), "{n} reads for 50 callers");
        // Nobody is queued any more: the next caller reads again, and the answer is not kept.
        assert_eq!(
            shared.get(&1, counted(&reads, Duration::ZERO)).await,
            Ok(n + 1)
        );
        let slots = shared.slots.lock().unwrap();
        assert!(slots[&1].try_lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn test_an_answer_is_never_older_than_the_question_without_a_window() {
        let shared = SharedReads::<u8, usize>::new(Duration::ZERO, 16);
        let reads = AtomicUsize::new(0);
        let first = shared.get(&1, counted(&reads, Duration::ZERO)).await;
        let second = shared.get(&1, counted(&reads, Duration::ZERO)).await;
        assert_eq!((first, second), (Ok(1), Ok(2)));
        // Other keys read on their own.
        assert_eq!(shared.get(&2, counted(&reads, Duration::ZERO)).await, Ok(3));
    }

    #[tokio::test]
    async fn test_within_the_window_a_later_caller_takes_the_last_answer() {
        let shared = SharedReads::<u8, usize>::new(Duration::from_secs(60), 16);
        let reads = AtomicUsize::new(0);
        assert_eq!(shared.get(&1, counted(&reads, Duration::ZERO)).await, Ok(1));
        assert_eq!(shared.get(&1, counted(&reads, Duration::ZERO)).await, Ok(1));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn test_a_failed_read_is_not_shared() {
        let shared = SharedReads::<u8, usize>::new(Duration::from_secs(60), 16);
        assert_eq!(
            shared.get(&1, async { Err::<usize, &str>("down") }).await,
            Err("down")
        );
        assert_eq!(shared.get(&1, async { Ok::<usize, &str>(7) }).await, Ok(7));
    }

    #[tokio::test]
    async fn test_keys_nobody_asks_about_are_forgotten_past_the_limit() {
        let shared = SharedReads::<u8, usize>::new(Duration::from_secs(60), 4);
        for key in 0..10 {
            shared
                .get(&key, async { Ok::<usize, ()>(0) })
                .await
                .unwrap();
        }
        assert!(shared.slots.lock().unwrap().len() <= 4);
    }
}
