<?xml version="1.0" encoding="UTF-8"?>
<!--
  Normalized customs receipt (urn:portgate:receipt:1) → the e-commerce platform's notification, JSON
  variant (webhook body or mailbox entry). One receipt, one JSON object; fields are left out when the
  receipt does not carry them. Described in docs/partners/shop-orders.md ("Notifications"); the XML
  variant with the same content is notify-shop-xml.xsl.
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:r="urn:portgate:receipt:1"
                exclude-result-prefixes="r">

  <xsl:include href="notify-shop-common.xsl"/>
  <xsl:output method="text" encoding="UTF-8"/>

  <xsl:template match="/">
    <xsl:if test="not(r:receipt)">
      <xsl:message terminate="yes">notify-shop-json: the input is not a normalized receipt (urn:portgate:receipt:1)</xsl:message>
    </xsl:if>
    <xsl:apply-templates select="r:receipt"/>
  </xsl:template>

  <xsl:template match="r:receipt">
    <xsl:variable name="time"><xsl:call-template name="iso-time"><xsl:with-param name="t" select="r:time"/></xsl:call-template></xsl:variable>
    <xsl:text>{&#10;  "event": "customs-status",&#10;  "receiptType": </xsl:text>
    <xsl:call-template name="json-string"><xsl:with-param name="s" select="@type"/></xsl:call-template>
    <xsl:if test="r:original">
      <xsl:text>,&#10;  "document": {"type": </xsl:text>
      <xsl:call-template name="json-string"><xsl:with-param name="s" select="r:original/@type"/></xsl:call-template>
      <xsl:text>, "id": </xsl:text>
      <xsl:call-template name="json-string"><xsl:with-param name="s" select="r:original/@id"/></xsl:call-template>
      <xsl:if test="normalize-space(r:original/@partnerRef)">
        <xsl:text>, "reference": </xsl:text>
        <xsl:call-template name="json-string"><xsl:with-param name="s" select="r:original/@partnerRef"/></xsl:call-template>
      </xsl:if>
      <xsl:text>}</xsl:text>
    </xsl:if>
    <xsl:if test="normalize-space(r:key[@name = 'orderNo'])">
      <xsl:text>,&#10;  "orderNo": </xsl:text>
      <xsl:call-template name="json-string"><xsl:with-param name="s" select="normalize-space(r:key[@name = 'orderNo'])"/></xsl:call-template>
    </xsl:if>
    <xsl:text>,&#10;  "keys": {</xsl:text>
    <xsl:for-each select="r:key">
      <xsl:if test="position() &gt; 1">, </xsl:if>
      <xsl:call-template name="json-string"><xsl:with-param name="s" select="@name"/></xsl:call-template>
      <xsl:text>: </xsl:text>
      <xsl:call-template name="json-string"><xsl:with-param name="s" select="normalize-space(.)"/></xsl:call-template>
    </xsl:for-each>
    <xsl:text>},&#10;  "status": {"code": </xsl:text>
    <xsl:call-template name="json-string"><xsl:with-param name="s" select="@status"/></xsl:call-template>
    <xsl:text>, "meaning": </xsl:text>
    <xsl:call-template name="json-string">
      <xsl:with-param name="s"><xsl:call-template name="status-text"><xsl:with-param name="receipt" select="."/></xsl:call-template></xsl:with-param>
    </xsl:call-template>
    <xsl:text>, "final": </xsl:text>
    <xsl:call-template name="boolean"><xsl:with-param name="v" select="@final"/></xsl:call-template>
    <xsl:text>, "result": "</xsl:text>
    <xsl:call-template name="result"><xsl:with-param name="v" select="@judgement"/></xsl:call-template>
    <xsl:text>"}</xsl:text>
    <xsl:if test="string($time)">
      <xsl:text>,&#10;  "time": "</xsl:text><xsl:value-of select="$time"/><xsl:text>"</xsl:text>
    </xsl:if>
    <xsl:if test="normalize-space(r:customsCode) and normalize-space(r:customsDesc)">
      <xsl:text>,&#10;  "customs": {"code": </xsl:text>
      <xsl:call-template name="json-string"><xsl:with-param name="s" select="normalize-space(r:customsCode)"/></xsl:call-template>
      <xsl:text>, "description": </xsl:text>
      <xsl:call-template name="json-string"><xsl:with-param name="s" select="normalize-space(r:customsDesc)"/></xsl:call-template>
      <xsl:text>}</xsl:text>
    </xsl:if>
    <xsl:if test="string(r:info)">
      <xsl:text>,&#10;  "info": </xsl:text>
      <xsl:call-template name="json-string"><xsl:with-param name="s" select="r:info"/></xsl:call-template>
    </xsl:if>
    <xsl:text>&#10;}&#10;</xsl:text>
  </xsl:template>

</xsl:stylesheet>
