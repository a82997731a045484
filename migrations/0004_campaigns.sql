-- Campaigns (DESIGN.md "Campaigns"): one Chorus serves many, and every
-- message belongs to one. Today's single campaign becomes the campaign
-- "default" (id 1) and keeps every existing message. Its texts start as
-- the upload page's own built-in wording in its four languages; the
-- settings that were flags (--campaign-title, --campaign-intro,
-- data/campaign.json, --consent-version) cannot be read from SQL, so the
-- server adopts them into this row once, at its next start
-- (campaign_adopt_settings(), while adopted = 0).
--
-- Times are Unix seconds (UTC). Slugs are the campaign's address
-- (/c/<slug>) and never change: they are printed on posters.

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 40
        AND slug NOT GLOB '*[^a-z0-9-]*' AND slug NOT GLOB '-*'),
    -- Its languages, comma-separated; the first is the fallback of every
    -- text missing in another.
    languages TEXT NOT NULL CHECK (length(languages) BETWEEN 2 AND 600),
    -- The consent version contributors agree to now (consent_versions).
    consent_version TEXT NOT NULL CHECK (length(consent_version)
        BETWEEN 1 AND 32),
    consent_seq INTEGER NOT NULL DEFAULT 0 CHECK (consent_seq >= 0),
    opens_at INTEGER,
    closes_at INTEGER,
    hashtag TEXT CHECK (length(hashtag) <= 100),
    credit_template TEXT CHECK (length(credit_template) <= 200),
    accent_color TEXT CHECK (accent_color GLOB
        '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
    -- When the worker made the current logo.png; NULL: no logo.
    logo_at INTEGER,
    adopted INTEGER NOT NULL DEFAULT 1 CHECK (adopted IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK (opens_at IS NULL OR closes_at IS NULL OR opens_at < closes_at)
);
CREATE TRIGGER campaigns_no_delete BEFORE DELETE ON campaigns
BEGIN
    SELECT RAISE(ABORT, 'campaigns are never deleted');
END;

-- A campaign's texts in one language, as the upload page and the poster
-- show them now. The consent text's history is consent_texts.
CREATE TABLE campaign_texts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    lang TEXT NOT NULL CHECK (length(lang) BETWEEN 2 AND 35),
    title TEXT CHECK (length(title) <= 200),
    intro TEXT CHECK (length(intro) <= 2000),
    consent TEXT CHECK (length(consent) <= 4000),
    cta TEXT CHECK (length(cta) <= 200), -- the poster's call to action
    PRIMARY KEY (campaign_id, lang)
) WITHOUT ROWID;

-- Every consent version a campaign has had, and the exact text of each
-- in each language: what a contributor agreed to stays readable after
-- any edit. Rows are never changed or deleted, but for the moment a
-- version stops being the current one.
CREATE TABLE consent_versions (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    version TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 32),
    created_at INTEGER NOT NULL,
    superseded_at INTEGER,
    PRIMARY KEY (campaign_id, version)
); -- a rowid table: its rowids are the versions' order
CREATE TABLE consent_texts (
    campaign_id INTEGER NOT NULL,
    version TEXT NOT NULL,
    lang TEXT NOT NULL CHECK (length(lang) BETWEEN 2 AND 35),
    text TEXT NOT NULL CHECK (length(text) <= 4000),
    PRIMARY KEY (campaign_id, version, lang),
    FOREIGN KEY (campaign_id, version)
        REFERENCES consent_versions(campaign_id, version)
) WITHOUT ROWID;
CREATE TRIGGER consent_versions_kept BEFORE UPDATE ON consent_versions
    WHEN NEW.campaign_id IS NOT OLD.campaign_id
        OR NEW.version IS NOT OLD.version
        OR NEW.created_at IS NOT OLD.created_at
        OR OLD.superseded_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'consent versions are kept as they were');
END;
CREATE TRIGGER consent_versions_no_delete BEFORE DELETE ON consent_versions
BEGIN
    SELECT RAISE(ABORT, 'consent versions are kept as they were');
END;
CREATE TRIGGER consent_texts_no_update BEFORE UPDATE ON consent_texts
BEGIN
    SELECT RAISE(ABORT, 'consent texts are kept as they were');
END;
CREATE TRIGGER consent_texts_no_delete BEFORE DELETE ON consent_texts
BEGIN
    SELECT RAISE(ABORT, 'consent texts are kept as they were');
END;

-- The campaigns a user is limited to; a user without rows sees every
-- campaign (admins always do).
CREATE TABLE user_campaigns (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    PRIMARY KEY (user_id, campaign_id)
) WITHOUT ROWID;
CREATE INDEX user_campaigns_campaign ON user_campaigns(campaign_id);

-- Messages per campaign and status, kept by triggers (as status_counts
-- was, which stays as a view of the totals). Every campaign starts with
-- a zero for every status.
CREATE TABLE message_counts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    status TEXT NOT NULL,
    n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0),
    PRIMARY KEY (campaign_id, status)
) WITHOUT ROWID;
CREATE TRIGGER campaign_counts AFTER INSERT ON campaigns
BEGIN
    INSERT INTO message_counts (campaign_id, status) VALUES
        (NEW.id, 'uploading'), (NEW.id, 'processing'), (NEW.id, 'pending'),
        (NEW.id, 'approved'), (NEW.id, 'rejected'), (NEW.id, 'failed'),
        (NEW.id, 'withdrawn');
END;

-- The default campaign: today's one.
INSERT INTO campaigns (id, slug, languages, consent_version, adopted,
    created_at, updated_at)
    SELECT 1, 'default', 'en,ru,uk,be',
        coalesce((SELECT consent_version FROM messages
            WHERE consent_version IS NOT NULL
            ORDER BY created_at DESC, id DESC LIMIT 1), '2026-11'),
        0, t, t
    FROM (SELECT CAST(strftime('%s', 'now') AS INTEGER) AS t);

-- Its texts: what the upload page said in each of its languages.
INSERT INTO campaign_texts (campaign_id, lang, title, intro, consent, cta)
VALUES
    (1, 'en', 'Send a message of solidarity',
     'Record a short video (a minute is plenty) to show your support. Say who you are only if you want to.',
     'The campaign''s moderators watch every video before anything is published.' || char(10) || 'If approved, it may be shared where you choose below.' || char(10) || 'We remove hidden data such as location and the phone''s model from the video. We do not keep your IP address.' || char(10) || 'You can withdraw it at any time with your private receipt; we then delete it.' || char(10) || 'Your face and voice can identify you. If that could put you at risk, film something else, such as a sign or your hands.',
     'Record a short video of solidarity'),
    (1, 'ru', 'Отправьте видео в знак солидарности',
     'Запишите короткое видео (минуты вполне достаточно), чтобы выразить поддержку. Называть себя не обязательно.',
     'Модераторы кампании просматривают каждое видео до публикации.' || char(10) || 'Если видео одобрят, его могут показать там, где вы разрешите ниже.' || char(10) || 'Мы удаляем из видео скрытые данные, например место съёмки и модель телефона. Мы не храним ваш IP-адрес.' || char(10) || 'Вы можете в любой момент отозвать видео по своей личной квитанции — тогда мы его удалим.' || char(10) || 'Лицо и голос могут вас выдать. Если это для вас опасно, снимите что-то другое: например, плакат или руки.',
     'Запишите короткое видео солидарности'),
    (1, 'uk', 'Надішліть відео на знак солідарності',
     'Запишіть коротке відео (хвилини цілком достатньо), щоб висловити підтримку. Називати себе не обов’язково.',
     'Модератори кампанії переглядають кожне відео до публікації.' || char(10) || 'Якщо відео схвалять, його можуть показати там, де ви дозволите нижче.' || char(10) || 'Ми видаляємо з відео приховані дані, наприклад місце зйомки та модель телефону. Ми не зберігаємо вашу IP-адресу.' || char(10) || 'Ви можете будь-коли відкликати відео за своєю особистою квитанцією — тоді ми його видалимо.' || char(10) || 'Обличчя й голос можуть вас видати. Якщо це для вас небезпечно, зніміть щось інше: наприклад, плакат або руки.',
     'Запишіть коротке відео солідарності'),
    (1, 'be', 'Адпраўце відэа ў знак салідарнасці',
     'Запішыце кароткае відэа (хвіліны цалкам дастаткова), каб выказаць падтрымку. Называць сябе не абавязкова.',
     'Мадэратары кампаніі праглядаюць кожнае відэа да публікацыі.' || char(10) || 'Калі відэа ўхваляць, яго могуць паказаць там, дзе вы дазволіце ніжэй.' || char(10) || 'Мы выдаляем з відэа схаваныя даныя, напрыклад месца здымкі і мадэль тэлефона. Мы не захоўваем ваш IP-адрас.' || char(10) || 'Вы можаце ў любы момант адклікаць відэа праз сваю асабістую квітанцыю — тады мы яго выдалім.' || char(10) || 'Твар і голас могуць вас выдаць. Калі гэта для вас небяспечна, зніміце нешта іншае: напрыклад, плакат або рукі.',
     'Запішыце кароткае відэа салідарнасці');

-- Every consent version a message names, and the current one, with the
-- text the page showed for all of them: its built-in wording, which no
-- setting could change. A version that is not current stopped being so
-- now, as far as anyone can tell.
INSERT INTO consent_versions (campaign_id, version, created_at,
    superseded_at)
    SELECT 1, v.version, coalesce(v.first, c.created_at),
        CASE WHEN v.version = c.consent_version THEN NULL
            ELSE c.created_at END
    FROM campaigns c,
        (SELECT version, min(first) AS first FROM (
            SELECT consent_version AS version, min(created_at) AS first
            FROM messages WHERE consent_version IS NOT NULL
            GROUP BY consent_version
            UNION ALL
            SELECT consent_version, NULL FROM campaigns WHERE id = 1)
        GROUP BY version) v
    WHERE c.id = 1
    ORDER BY v.version = c.consent_version, v.first, v.version;
INSERT INTO consent_texts (campaign_id, version, lang, text)
    SELECT 1, v.version, t.lang, t.consent
    FROM consent_versions v, campaign_texts t
    WHERE v.campaign_id = 1 AND t.campaign_id = 1;

-- Every message belongs to a campaign: the existing ones to the default.
-- SQLite cannot add a column with a foreign key and a default, so the
-- reference is checked by triggers (and campaigns are never deleted).
ALTER TABLE messages ADD COLUMN campaign_id INTEGER NOT NULL DEFAULT 1
    CHECK (campaign_id > 0);
-- The language of the consent text the contributor was shown.
ALTER TABLE messages ADD COLUMN consent_language TEXT
    CHECK (length(consent_language) BETWEEN 2 AND 35);
CREATE TRIGGER messages_campaign_insert BEFORE INSERT ON messages
    WHEN NOT EXISTS (SELECT 1 FROM campaigns WHERE id = NEW.campaign_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: no such campaign');
END;
CREATE TRIGGER messages_campaign_update BEFORE UPDATE OF campaign_id
    ON messages
    WHEN NOT EXISTS (SELECT 1 FROM campaigns WHERE id = NEW.campaign_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: no such campaign');
END;
CREATE INDEX messages_campaign ON messages(campaign_id, status, created_at,
    id);

-- The counts move from status_counts to message_counts.
UPDATE message_counts SET n = (SELECT count(*) FROM messages m
    WHERE m.campaign_id = message_counts.campaign_id
    AND m.status = message_counts.status);
DROP TRIGGER status_count_insert;
DROP TRIGGER status_count_delete;
DROP TRIGGER status_count_update;
DROP TABLE status_counts;
CREATE VIEW status_counts AS
    SELECT status, sum(n) AS n FROM message_counts GROUP BY status;
CREATE TRIGGER message_count_insert AFTER INSERT ON messages
BEGIN
    UPDATE message_counts SET n = n + 1
        WHERE campaign_id = NEW.campaign_id AND status = NEW.status;
END;
CREATE TRIGGER message_count_delete AFTER DELETE ON messages
BEGIN
    UPDATE message_counts SET n = n - 1
        WHERE campaign_id = OLD.campaign_id AND status = OLD.status;
END;
CREATE TRIGGER message_count_update AFTER UPDATE OF status, campaign_id
    ON messages
    WHEN OLD.status <> NEW.status OR OLD.campaign_id <> NEW.campaign_id
BEGIN
    UPDATE message_counts SET n = n - 1
        WHERE campaign_id = OLD.campaign_id AND status = OLD.status;
    UPDATE message_counts SET n = n + 1
        WHERE campaign_id = NEW.campaign_id AND status = NEW.status;
END;
