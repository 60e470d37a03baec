-- The prompt rephraser: the use case applied, and the prompt before and after the rewrite
-- (the texts only when `store_content` is on, like `prompt` and `response`).
ALTER TABLE calls ADD COLUMN rephrase_use_case TEXT;
ALTER TABLE calls ADD COLUMN original_prompt TEXT;
ALTER TABLE calls ADD COLUMN rephrased_prompt TEXT;
